-- Disputes: the presentment amount of dispute and dispute_reversal BTs.
-- unique: account, id
-- From latest.disputes: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.amount,
    v.currency,
    v.charge,
    v.payment_intent,
    v.status,
    v.reason,
    v.balance_transactions,
    v.metadata,
    v._extracted_at AS extracted_at
FROM latest.disputes v
