-- Checkout sessions: client_reference_id and metadata for attribution (METRICS.md §6).
-- unique: account, id
-- From latest.checkout_sessions: the newest stored version of each object, deleted ones dropped, one mode.
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
FROM latest.checkout_sessions v
