-- unique: account, subscription_id, seq
-- Subscription state intervals (SCD-2): each snapshot holds from its time until the next one.
-- `status` is the state's own for exact snapshots; for reconstructed ones it follows from the
-- timestamps (trialing inside the trial, canceled from ended_at, active otherwise). A state whose
-- embedded item list was cut off at 10 gets the rest from the subscription_items stream. The
-- ids a state refers to (prices, coupons, discounts) and its customer's discount are resolved
-- here once, for int_subscription_state_mrr.
WITH ordered AS (
    -- The window runs before the item lists are joined: its sort then moves states, not states
    -- with every item of their subscription attached.
    SELECT
        s.account,
        s.subscription_id,
        row_number() OVER (
            PARTITION BY s.account, s.subscription_id ORDER BY s.at, s.source_rank, s.tiebreak
        ) AS seq,
        s.at AS valid_from,
        lead(s.at) OVER (
            PARTITION BY s.account, s.subscription_id ORDER BY s.at, s.source_rank, s.tiebreak
        ) AS valid_to,
        s.source AS state_source,
        sl_sub_status(s.state, s.at, s.source = 'reconstructed') AS status,
        s.state
    FROM int_subscription_snapshots s
),
intervals AS (
    SELECT
        o.account,
        o.subscription_id,
        o.seq,
        o.valid_from,
        o.valid_to,
        o.state_source,
        o.status,
        sl_complete_items(o.state, i.items) AS state
    FROM ordered o
    LEFT JOIN int_subscription_item_lists i
        ON i.account = o.account AND i.subscription = o.subscription_id
),
with_customer AS (
    SELECT *, sl_json(state, 'customer') AS customer_id
    FROM intervals
)
SELECT
    w.account,
    w.subscription_id,
    w.seq,
    w.valid_from,
    w.valid_to,
    w.state_source,
    w.status,
    w.state,
    w.customer_id,
    sl_json(c.raw, 'discount') AS customer_discount,
    sl_ref_ids(w.state, 'prices') AS price_ids,
    sl_ref_ids(w.state, 'discounts') AS discount_ids,
    array_concat(
        sl_ref_ids(w.state, 'coupons'), sl_ref_ids(sl_json(c.raw, 'discount'), 'coupons')
    ) AS coupon_ids
FROM with_customer w
LEFT JOIN stg_customers c ON c.account = w.account AND c.id = w.customer_id
