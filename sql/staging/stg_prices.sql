-- Prices, with tiers (subscription items never embed them).
-- unique: account, id
-- From latest.prices: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.product,
    v.active,
    v.currency,
    v.type,
    v.unit_amount,
    v.billing_scheme,
    v.tiers_mode,
    v.tiers,
    v.recurring_interval,
    v.recurring_interval_count,
    v.recurring_usage_type,
    v.transform_quantity,
    v.tax_behavior,
    v.nickname,
    v.lookup_key,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM latest.prices v
