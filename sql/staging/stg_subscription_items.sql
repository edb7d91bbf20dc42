-- Subscription items as of the latest extraction.
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.subscription,
    v.price,
    v.product,
    v.quantity,
    v.current_period_start,
    v.current_period_end,
    v.price_currency,
    v.price_unit_amount,
    v.price_billing_scheme,
    v.price_recurring_interval,
    v.price_recurring_interval_count,
    v.price_recurring_usage_type,
    v.discounts,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.subscription_items
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
