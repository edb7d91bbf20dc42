-- Refunds: the presentment amount of refund, refund_failure, partial_capture_reversal and charge_failure BTs.
-- unique: account, id
-- From latest.refunds: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.amount,
    v.currency,
    v.charge,
    v.payment_intent,
    v.balance_transaction,
    v.status,
    v.reason,
    v.metadata,
    v._extracted_at AS extracted_at
FROM latest.refunds v
