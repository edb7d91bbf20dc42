-- Checkout sessions: client_reference_id and metadata for attribution (METRICS.md §6).
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.mode,
    v.status,
    v.payment_status,
    v.client_reference_id,
    v.customer,
    v.customer_email,
    v.amount_subtotal,
    v.amount_total,
    v.currency,
    v.payment_intent,
    v.subscription,
    v.invoice,
    v.expires_at,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.checkout_sessions
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
