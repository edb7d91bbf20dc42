-- Invoice line items (never invoices: the extractor writes only line items here).
-- unique: account, id
-- From latest.invoice_line_items: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.invoice,
    v.amount,
    v.currency,
    v.description,
    v.quantity,
    v.period_start,
    v.period_end,
    v.proration,
    v.subscription,
    v.subscription_item,
    v.price,
    v.product,
    v.discount_amounts,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM latest.invoice_line_items v
