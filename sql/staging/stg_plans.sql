-- Plans (the legacy face of recurring prices).
-- unique: account, id
-- From latest.plans: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.product,
    v.active,
    v.currency,
    v.amount,
    v.interval,
    v.interval_count,
    v.usage_type,
    v.billing_scheme,
    v.tiers_mode,
    v.nickname,
    v.metadata,
    v._extracted_at AS extracted_at
FROM latest.plans v
