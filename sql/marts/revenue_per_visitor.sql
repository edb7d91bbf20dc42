-- unique: range_name, channel
-- METRICS.md §5 revenue per visitor, for every KPI range (kpi_summary's ranges): overall
-- (`channel = 'All'`: all gross revenue ÷ all unique visitors, unattributed revenue included) and
-- per first-touch channel (gross of charges attributed to visitors whose first touch is that
-- channel ÷ unique visitors in the range whose first touch is that channel). 2 dp of minor units,
-- half away from zero, NULL without visitors.
--
-- Columns:
--   range_name: `last_N_days` for the configured windows, or the `kpi_range`
--   start_date: first day of the range (inclusive)
--   end_date: last day of the range (inclusive)
--   channel: `All`, or a first-touch channel
--   unique_visitors: distinct visitors with a session starting in the range (of that channel)
--   gross_revenue_settlement: gross charges dated in the range (attributed to that channel),
--       settlement minor units
--   revenue_per_visitor: gross_revenue_settlement ÷ unique_visitors, 2 dp of minor units
WITH visitors AS (
    SELECT r.range_name, s.visitor_id, v.first_touch_channel AS channel
    FROM int_kpi_ranges r
    JOIN int_visitor_sessions s ON s.date BETWEEN r.start_date AND r.end_date
    JOIN int_visitors v ON v.visitor_id = s.visitor_id
),
visitor_counts AS (
    SELECT range_name, 'All' AS channel, count(DISTINCT visitor_id) AS unique_visitors
    FROM visitors
    GROUP BY range_name
    UNION ALL
    SELECT range_name, channel, count(DISTINCT visitor_id)
    FROM visitors
    GROUP BY range_name, channel
),
revenue AS (
    SELECT r.range_name, g.gross_settlement, a.first_touch_channel AS channel
    FROM int_kpi_ranges r
    JOIN int_ledger g ON g.date BETWEEN r.start_date AND r.end_date
    LEFT JOIN revenue_attribution a ON a.account = g.account AND a.charge_id = g.charge_id
),
revenue_sums AS (
    SELECT range_name, 'All' AS channel, sum(gross_settlement) AS gross
    FROM revenue
    GROUP BY range_name
    UNION ALL
    SELECT range_name, channel, sum(gross_settlement)
    FROM revenue
    WHERE channel IS NOT NULL
    GROUP BY range_name, channel
),
keys AS (
    SELECT range_name, 'All' AS channel FROM int_kpi_ranges
    UNION
    SELECT range_name, channel FROM visitor_counts
    UNION
    SELECT range_name, channel FROM revenue_sums
)
SELECT
    k.range_name,
    r.start_date,
    r.end_date,
    k.channel,
    COALESCE(c.unique_visitors, 0) AS unique_visitors,
    COALESCE(m.gross, 0) AS gross_revenue_settlement,
    CASE WHEN c.unique_visitors > 0 THEN sl_div_2dp(COALESCE(m.gross, 0), c.unique_visitors) END
        AS revenue_per_visitor
FROM keys k
JOIN int_kpi_ranges r ON r.range_name = k.range_name
LEFT JOIN visitor_counts c ON c.range_name = k.range_name AND c.channel = k.channel
LEFT JOIN revenue_sums m ON m.range_name = k.range_name AND m.channel = k.channel
ORDER BY k.range_name, CASE WHEN k.channel = 'All' THEN 0 ELSE 1 END, k.channel
