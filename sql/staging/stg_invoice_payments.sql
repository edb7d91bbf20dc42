-- Invoice payments: the invoice ↔ payment intent link since API 2025-03-31.basil.
-- unique: account, id
-- From latest.invoice_payments: the newest stored version of each object, deleted ones dropped, one mode.
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
FROM latest.invoice_payments v
