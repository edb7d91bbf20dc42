-- Invoice payments: the invoice ↔ payment intent link since API 2025-03-31.basil.
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.invoice,
    v.payment_intent,
    v.payment_type,
    v.amount_paid,
    v.amount_requested,
    v.currency,
    v.status,
    v.paid_at,
    v.is_default,
    v._extracted_at AS extracted_at
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.invoice_payments
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
