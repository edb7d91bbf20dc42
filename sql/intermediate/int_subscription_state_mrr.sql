-- unique: account, subscription_id, seq
-- The MRR of each subscription state (METRICS.md §3.2–§3.5), computed by `sl_sub_mrr` in exact
-- integer arithmetic from the state, the prices it uses (with tiers), the coupons of its
-- discounts (by id, through int_discounts, when the state is an event payload) and the
-- customer's discount (which applies only when the subscription has none).
WITH price_refs AS (
    SELECT account, subscription_id, seq, unnest(price_ids) AS price_id
    FROM int_subscription_states
),
prices AS (
    SELECT r.account, r.subscription_id, r.seq, array_agg(p.raw) AS prices
    FROM price_refs r
    JOIN stg_prices p ON p.account = r.account AND p.id = r.price_id
    GROUP BY r.account, r.subscription_id, r.seq
),
discount_refs AS (
    SELECT account, subscription_id, seq, unnest(discount_ids) AS discount_id
    FROM int_subscription_states
),
discount_objects AS (
    SELECT r.account, r.subscription_id, r.seq, d.discount
    FROM discount_refs r
    JOIN int_discounts d ON d.account = r.account AND d.discount_id = r.discount_id
),
discounts AS (
    SELECT account, subscription_id, seq, array_agg(discount) AS discounts
    FROM discount_objects
    GROUP BY account, subscription_id, seq
),
coupon_refs AS (
    SELECT
        account,
        subscription_id,
        seq,
        unnest(coupon_ids) AS coupon_id
    FROM int_subscription_states
    UNION ALL
    SELECT account, subscription_id, seq, unnest(sl_ref_ids(discount, 'coupons'))
    FROM discount_objects
),
coupons AS (
    SELECT r.account, r.subscription_id, r.seq, array_agg(c.raw) AS coupons
    FROM coupon_refs r
    JOIN stg_coupons c ON c.account = r.account AND c.id = r.coupon_id
    GROUP BY r.account, r.subscription_id, r.seq
)
SELECT
    s.account,
    s.subscription_id,
    s.seq,
    s.valid_from,
    s.valid_to,
    s.state_source,
    s.status,
    sl_sub_mrr(
        s.state, s.customer_discount, s.status, p.prices, c.coupons, d.discounts,
        cfg.discount_mode, cfg.churn_recognition, s.valid_from
    ) AS mrr
FROM stg_settings cfg
CROSS JOIN int_subscription_states s
LEFT JOIN prices p
    ON p.account = s.account AND p.subscription_id = s.subscription_id AND p.seq = s.seq
LEFT JOIN coupons c
    ON c.account = s.account AND c.subscription_id = s.subscription_id AND c.seq = s.seq
LEFT JOIN discounts d
    ON d.account = s.account AND d.subscription_id = s.subscription_id AND d.seq = s.seq
