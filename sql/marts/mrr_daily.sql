-- unique: date, basis, currency
-- METRICS.md §4.3: dense, one row per day from the first subscription day through as_of, per
-- basis: `native` (one row per currency) and `settlement` (one row, all currencies converted).
-- On the settlement basis fx_adjustment absorbs revaluation and rounding, so that for every
-- row mrr(d) = mrr(d−1) + net_mrr_movement(d) + fx_adjustment(d).
--
-- Columns:
--   date: the day (report time zone)
--   basis: `native` (one row per currency) or `settlement` (one row, all converted)
--   currency: the currency of the row
--   mrr: monthly recurring revenue, minor units
--   new_mrr: Σ new movements
--   expansion_mrr: Σ expansion movements
--   contraction_mrr: Σ contraction movements (≤ 0)
--   churned_mrr: Σ churn movements (≤ 0)
--   reactivation_mrr: Σ reactivation movements
--   net_mrr_movement: the sum of the five movement columns
--   fx_adjustment: settlement basis only: mrr − previous mrr − net movement (revaluation and
--       rounding)
--   arr: 12 × mrr
--   active_subscriptions: subscriptions with mrr > 0
--   active_customers: customers with MRR > 0
--   trialing_subscriptions: subscriptions whose end-of-day status is trialing
WITH cfg AS (
    SELECT * FROM stg_settings
),
first_day AS (
    SELECT min(date) AS date FROM mrr_subscription_daily
),
days AS (
    SELECT unnest(generate_series(f.date, cfg.as_of, INTERVAL '1 day')) AS date
    FROM cfg
    CROSS JOIN first_day f
    WHERE f.date IS NOT NULL
),
currencies AS (
    SELECT DISTINCT currency FROM mrr_subscription_daily
),
by_sub AS (
    SELECT
        date,
        currency,
        sum(mrr) AS mrr,
        sum(mrr_settlement) AS mrr_settlement,
        sum(CASE WHEN mrr > 0 THEN 1 ELSE 0 END) AS active_subscriptions,
        sum(CASE WHEN status = 'trialing' THEN 1 ELSE 0 END) AS trialing_subscriptions
    FROM mrr_subscription_daily
    GROUP BY date, currency
),
by_key AS (
    SELECT date, currency, customer_id, sum(mrr) AS m
    FROM mrr_subscription_daily
    GROUP BY date, currency, customer_id
),
active_native AS (
    SELECT date, currency, sum(CASE WHEN m > 0 THEN 1 ELSE 0 END) AS active_customers
    FROM by_key
    GROUP BY date, currency
),
active_all AS (
    SELECT date, count(DISTINCT CASE WHEN m > 0 THEN customer_id END) AS active_customers
    FROM by_key
    GROUP BY date
),
moves AS (
    SELECT
        date,
        currency,
        sum(CASE WHEN movement_type = 'new' THEN amount ELSE 0 END) AS new_mrr,
        sum(CASE WHEN movement_type = 'expansion' THEN amount ELSE 0 END) AS expansion_mrr,
        sum(CASE WHEN movement_type = 'contraction' THEN amount ELSE 0 END) AS contraction_mrr,
        sum(CASE WHEN movement_type = 'churn' THEN amount ELSE 0 END) AS churned_mrr,
        sum(CASE WHEN movement_type = 'reactivation' THEN amount ELSE 0 END) AS reactivation_mrr,
        sum(CASE WHEN movement_type = 'new' THEN amount_settlement ELSE 0 END) AS new_s,
        sum(CASE WHEN movement_type = 'expansion' THEN amount_settlement ELSE 0 END) AS expansion_s,
        sum(CASE WHEN movement_type = 'contraction' THEN amount_settlement ELSE 0 END) AS contraction_s,
        sum(CASE WHEN movement_type = 'churn' THEN amount_settlement ELSE 0 END) AS churned_s,
        sum(CASE WHEN movement_type = 'reactivation' THEN amount_settlement ELSE 0 END) AS reactivation_s
    FROM mrr_movements
    GROUP BY date, currency
),
native AS (
    SELECT
        d.date,
        'native' AS basis,
        c.currency,
        COALESCE(s.mrr, 0) AS mrr,
        COALESCE(m.new_mrr, 0) AS new_mrr,
        COALESCE(m.expansion_mrr, 0) AS expansion_mrr,
        COALESCE(m.contraction_mrr, 0) AS contraction_mrr,
        COALESCE(m.churned_mrr, 0) AS churned_mrr,
        COALESCE(m.reactivation_mrr, 0) AS reactivation_mrr,
        COALESCE(m.new_mrr + m.expansion_mrr + m.contraction_mrr + m.churned_mrr
            + m.reactivation_mrr, 0) AS net_mrr_movement,
        CAST(0 AS BIGINT) AS fx_adjustment,
        12 * COALESCE(s.mrr, 0) AS arr,
        COALESCE(s.active_subscriptions, 0) AS active_subscriptions,
        COALESCE(a.active_customers, 0) AS active_customers,
        COALESCE(s.trialing_subscriptions, 0) AS trialing_subscriptions
    FROM currencies c
    CROSS JOIN days d
    LEFT JOIN by_sub s ON s.date = d.date AND s.currency = c.currency
    LEFT JOIN moves m ON m.date = d.date AND m.currency = c.currency
    LEFT JOIN active_native a ON a.date = d.date AND a.currency = c.currency
),
settled AS (
    SELECT
        d.date,
        COALESCE(sum(s.mrr_settlement), 0) AS mrr,
        COALESCE(sum(s.active_subscriptions), 0) AS active_subscriptions,
        COALESCE(sum(s.trialing_subscriptions), 0) AS trialing_subscriptions
    FROM days d
    LEFT JOIN by_sub s ON s.date = d.date
    GROUP BY d.date
),
settled_moves AS (
    SELECT
        date,
        sum(new_s) AS new_mrr,
        sum(expansion_s) AS expansion_mrr,
        sum(contraction_s) AS contraction_mrr,
        sum(churned_s) AS churned_mrr,
        sum(reactivation_s) AS reactivation_mrr
    FROM moves
    GROUP BY date
),
settlement AS (
    SELECT
        s.date,
        'settlement' AS basis,
        cfg.settlement_currency AS currency,
        s.mrr,
        COALESCE(m.new_mrr, 0) AS new_mrr,
        COALESCE(m.expansion_mrr, 0) AS expansion_mrr,
        COALESCE(m.contraction_mrr, 0) AS contraction_mrr,
        COALESCE(m.churned_mrr, 0) AS churned_mrr,
        COALESCE(m.reactivation_mrr, 0) AS reactivation_mrr,
        COALESCE(m.new_mrr + m.expansion_mrr + m.contraction_mrr + m.churned_mrr
            + m.reactivation_mrr, 0) AS net_mrr_movement,
        s.active_subscriptions,
        COALESCE(a.active_customers, 0) AS active_customers,
        s.trialing_subscriptions
    FROM cfg
    CROSS JOIN settled s
    LEFT JOIN settled_moves m ON m.date = s.date
    LEFT JOIN active_all a ON a.date = s.date
)
SELECT
    date, basis, currency, mrr, new_mrr, expansion_mrr, contraction_mrr, churned_mrr,
    reactivation_mrr, net_mrr_movement, fx_adjustment, arr, active_subscriptions,
    active_customers, trialing_subscriptions
FROM native
UNION ALL
SELECT
    date, basis, currency, mrr, new_mrr, expansion_mrr, contraction_mrr, churned_mrr,
    reactivation_mrr, net_mrr_movement,
    mrr - COALESCE(lag(mrr) OVER (ORDER BY date), 0) - net_mrr_movement AS fx_adjustment,
    12 * mrr AS arr,
    active_subscriptions,
    active_customers,
    trialing_subscriptions
FROM settlement
