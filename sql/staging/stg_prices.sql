-- Prices, with tiers (subscription items never embed them).
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
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
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.prices
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
