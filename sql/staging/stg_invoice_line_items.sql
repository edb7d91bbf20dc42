-- Invoice line items (never invoices: the extractor writes only line items here).
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
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
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.invoice_line_items
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
