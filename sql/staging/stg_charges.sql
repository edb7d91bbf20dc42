-- Charges: succeeded, failed and refunded payment attempts; failed ones feed failed_payments.
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.amount,
    v.amount_captured,
    v.amount_refunded,
    v.currency,
    v.status,
    v.paid,
    v.captured,
    v.refunded,
    v.disputed,
    v.customer,
    v.payment_intent,
    v.balance_transaction,
    v.billing_email,
    v.failure_code,
    v.failure_message,
    v.outcome_type,
    v.payment_method_type,
    v.card_country,
    v.description,
    v.metadata,
    v._extracted_at AS extracted_at
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.charges
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
