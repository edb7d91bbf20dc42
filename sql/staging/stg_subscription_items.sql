-- Subscription items as of the latest extraction.
-- unique: account, id
-- From latest.subscription_items: the newest stored version of each object, deleted ones dropped, one mode.
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
FROM latest.subscription_items v
