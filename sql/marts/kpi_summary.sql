-- unique: range_name
-- METRICS.md §5 range metrics, one row per KPI range. Money is settlement minor units; AOV is
-- 2 dp of minor units, half away from zero, NULL without charges. Revenue per visitor is
-- revenue_per_visitor's `All` row: NULL without visitor data.
--
-- Columns:
--   range_name: `last_N_days` for the configured windows, `previous_N_days` the N days before
--       them, `last_1_days` / `previous_1_days` / `week_before_1_days` as_of, the day before and
--       as_of − 7 (for the report and the digest), or the `kpi_range`
--   start_date: first day of the range (inclusive)
--   end_date: last day of the range (inclusive)
--   gross_revenue_settlement: Σ gross charges in the range, settlement minor units
--   net_revenue_settlement: Σ net revenue in the range, settlement minor units
--   transactions: number of `charge` balance transactions in the range
--   new_customers: customer_keys whose first charge ever falls in the range
--   churned_subscriptions: subscriptions that went from MRR > 0 to 0 on a day in the range
--   failed_payments: failed charges in the range
--   aov: average order value, gross settlement / transactions, 2 dp of minor units
--   unique_visitors: distinct web visitors with a session starting in the range
--   revenue_per_visitor: gross revenue settlement / unique visitors, 2 dp of minor units; NULL
--       without visitors
--   mrr: settlement MRR on end_date
--   arr: 12 × mrr
--   active_subscriptions: subscriptions with MRR > 0 on end_date
--   active_customers: customers with MRR > 0 on end_date
--   new_subscribers: customers with a `new` MRR movement in the range
--   net_mrr_movement: Σ the settlement MRR movements of the range (excluding the FX adjustment)
--   disputes_opened: disputes created in the range
--   settlement_currency: the currency of every settlement amount (the same on every row)
--   last_extracted_at: when the newest balance transaction, subscription or charge was
--       extracted (UTC; the same on every row)
WITH first_charges AS (
    SELECT customer_key, min(date) AS first_day
    FROM int_ledger
    WHERE category = 'charge'
    GROUP BY customer_key
),
sub_days AS (
    SELECT
        subscription_id,
        date,
        mrr,
        lag(mrr) OVER (PARTITION BY subscription_id ORDER BY date) AS mrr_before,
        lag(date) OVER (PARTITION BY subscription_id ORDER BY date) AS day_before
    FROM mrr_subscription_daily
),
churn_days AS (
    SELECT subscription_id, date
    FROM sub_days
    WHERE mrr = 0 AND mrr_before > 0 AND day_before = sl_add_days(date, -1)
),
revenue AS (
    SELECT
        r.range_name,
        sum(l.gross_settlement) AS gross_revenue_settlement,
        sum(l.gross_settlement - l.refunds_settlement - l.disputes_settlement - l.fees_settlement)
            AS net_revenue_settlement,
        sum(CASE WHEN l.category = 'charge' THEN 1 ELSE 0 END) AS transactions
    FROM int_kpi_ranges r
    JOIN int_ledger l ON l.date BETWEEN r.start_date AND r.end_date
    GROUP BY r.range_name
),
failed AS (
    SELECT r.range_name, count(*) AS failed_payments
    FROM int_kpi_ranges r
    JOIN failed_payments f ON f.date BETWEEN r.start_date AND r.end_date
    GROUP BY r.range_name
),
newcomers AS (
    SELECT r.range_name, count(*) AS new_customers
    FROM int_kpi_ranges r
    JOIN first_charges f ON f.first_day BETWEEN r.start_date AND r.end_date
    GROUP BY r.range_name
),
churned AS (
    SELECT r.range_name, count(DISTINCT c.subscription_id) AS churned_subscriptions
    FROM int_kpi_ranges r
    JOIN churn_days c ON c.date BETWEEN r.start_date AND r.end_date
    GROUP BY r.range_name
),
subscribers AS (
    SELECT r.range_name, count(DISTINCT m.account || ' ' || m.customer_id) AS new_subscribers
    FROM int_kpi_ranges r
    JOIN mrr_movements m ON m.date BETWEEN r.start_date AND r.end_date
    WHERE m.movement_type = 'new'
    GROUP BY r.range_name
),
movement AS (
    SELECT r.range_name, sum(m.net_mrr_movement) AS net_mrr_movement
    FROM int_kpi_ranges r
    JOIN mrr_daily m ON m.date BETWEEN r.start_date AND r.end_date AND m.basis = 'settlement'
    GROUP BY r.range_name
),
opened AS (
    SELECT r.range_name, count(*) AS disputes_opened
    FROM int_kpi_ranges r
    JOIN disputes d ON d.date BETWEEN r.start_date AND r.end_date
    GROUP BY r.range_name
),
closing AS (
    SELECT r.range_name, m.mrr, m.arr, m.active_subscriptions, m.active_customers
    FROM int_kpi_ranges r
    JOIN mrr_daily m ON m.date = r.end_date AND m.basis = 'settlement'
)
SELECT
    r.range_name,
    r.start_date,
    r.end_date,
    COALESCE(v.gross_revenue_settlement, 0) AS gross_revenue_settlement,
    COALESCE(v.net_revenue_settlement, 0) AS net_revenue_settlement,
    COALESCE(v.transactions, 0) AS transactions,
    COALESCE(n.new_customers, 0) AS new_customers,
    COALESCE(c.churned_subscriptions, 0) AS churned_subscriptions,
    COALESCE(f.failed_payments, 0) AS failed_payments,
    sl_div_2dp(v.gross_revenue_settlement, v.transactions) AS aov,
    COALESCE(rpv.unique_visitors, 0) AS unique_visitors,
    rpv.revenue_per_visitor,
    COALESCE(cl.mrr, 0) AS mrr,
    COALESCE(cl.arr, 0) AS arr,
    COALESCE(cl.active_subscriptions, 0) AS active_subscriptions,
    COALESCE(cl.active_customers, 0) AS active_customers,
    COALESCE(s.new_subscribers, 0) AS new_subscribers,
    COALESCE(mv.net_mrr_movement, 0) AS net_mrr_movement,
    COALESCE(o.disputes_opened, 0) AS disputes_opened,
    cfg.settlement_currency,
    cfg.last_extracted_at
FROM int_kpi_ranges r
CROSS JOIN stg_settings cfg
LEFT JOIN revenue v ON v.range_name = r.range_name
LEFT JOIN failed f ON f.range_name = r.range_name
LEFT JOIN newcomers n ON n.range_name = r.range_name
LEFT JOIN churned c ON c.range_name = r.range_name
LEFT JOIN closing cl ON cl.range_name = r.range_name
LEFT JOIN subscribers s ON s.range_name = r.range_name
LEFT JOIN movement mv ON mv.range_name = r.range_name
LEFT JOIN opened o ON o.range_name = r.range_name
LEFT JOIN revenue_per_visitor rpv ON rpv.range_name = r.range_name AND rpv.channel = 'All'
