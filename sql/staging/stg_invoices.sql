-- Invoices.
-- unique: account, id
-- From latest.invoices: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.customer,
    v.subscription,
    v.status,
    v.billing_reason,
    v.currency,
    v.amount_due,
    v.amount_paid,
    v.amount_remaining,
    v.subtotal,
    v.total,
    v.total_excluding_tax,
    v.period_start,
    v.period_end,
    v.paid_at,
    v.number,
    v.customer_email,
    v.discounts,
    v.total_discount_amounts,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM latest.invoices v
