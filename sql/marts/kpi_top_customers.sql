-- unique: range_name, rank
-- METRICS.md §5 top_customers: per KPI range, every customer_key with an included balance
-- transaction in the range, ranked by net sales (before fees) descending, ties by key.
--
-- Columns:
--   range_name: as in `kpi_summary`
--   rank: 1 = highest net sales; ties ordered by customer_key
--   customer_key: as in `customers`
--   net_sales: gross − refunds − disputes in the range, before fees, settlement minor units
--   charge_count: `charge` balance transactions in the range
WITH in_range AS (
    SELECT
        r.range_name,
        l.customer_key,
        sum(l.gross_settlement - l.refunds_settlement - l.disputes_settlement) AS net_sales,
        sum(CASE WHEN l.category = 'charge' THEN 1 ELSE 0 END) AS charge_count
    FROM int_kpi_ranges r
    JOIN int_ledger l ON l.date BETWEEN r.start_date AND r.end_date
    WHERE l.category <> 'fee'
    GROUP BY r.range_name, l.customer_key
)
SELECT
    range_name,
    row_number() OVER (PARTITION BY range_name ORDER BY net_sales DESC, customer_key) AS rank,
    customer_key,
    net_sales,
    charge_count
FROM in_range
