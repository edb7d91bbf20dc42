-- METRICS.md §9: per currency, the native movements of a day sum to the day's change in
-- native MRR (read from mrr_subscription_daily, not from mrr_daily's own columns).
WITH per_day AS (
    SELECT date, currency, sum(mrr) AS mrr
    FROM mrr_subscription_daily
    GROUP BY date, currency
),
changes AS (
    SELECT
        date,
        currency,
        mrr - COALESCE(lag(mrr) OVER (PARTITION BY currency ORDER BY date), 0) AS delta,
        lag(date) OVER (PARTITION BY currency ORDER BY date) AS previous_day
    FROM per_day
),
moves AS (
    SELECT date, currency, sum(amount) AS total
    FROM mrr_movements
    GROUP BY date, currency
)
SELECT c.date, c.currency, c.delta, COALESCE(m.total, 0) AS movements
FROM changes c
LEFT JOIN moves m ON m.date = c.date AND m.currency = c.currency
WHERE (c.previous_day IS NULL OR c.previous_day = sl_add_days(c.date, -1))
  AND c.delta <> COALESCE(m.total, 0)
