-- Coupons: the terms behind discounts.
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.name,
    v.duration,
    v.duration_in_months,
    v.percent_off,
    v.amount_off,
    v.currency,
    v.valid,
    v.redeem_by,
    v.times_redeemed,
    v.max_redemptions,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.coupons
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
