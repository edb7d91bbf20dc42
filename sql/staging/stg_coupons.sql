-- Coupons: the terms behind discounts.
-- unique: account, id
-- From latest.coupons: the newest stored version of each object, deleted ones dropped, one mode.
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
FROM latest.coupons v
