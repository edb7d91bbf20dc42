-- unique: experiment, variant
-- Revenue per experiment and variant (issue #5): visitors are counted in the variant of their
-- first exposure; their attributed succeeded charges created at or after that exposure count as
-- the variant's conversions and revenue (refunds and disputes of those charges are netted in
-- net_sales_settlement). Revenue per visitor is 2 dp of minor units, half away from zero.
--
-- Columns:
--   experiment: the experiment name from the web data
--   variant: the variant the visitor first saw
--   visitors: distinct visitors exposed to this variant first
--   converting_visitors: those with at least one attributed succeeded charge after exposure
--   charge_count: their attributed succeeded charges after exposure
--   gross_settlement: gross of those charges, settlement minor units
--   net_sales_settlement: gross − refunds − disputes of those charges, settlement minor units
--   revenue_per_visitor: gross_settlement ÷ visitors, 2 dp of minor units
--   net_sales_per_visitor: net_sales_settlement ÷ visitors, 2 dp of minor units
--   conversion_rate_pct: converting_visitors ÷ visitors × 100, 2 dp
WITH conversions AS (
    SELECT
        x.experiment,
        x.variant,
        x.visitor_id,
        a.charge_id,
        a.gross_settlement,
        a.net_sales_settlement
    FROM int_visitor_experiments x
    JOIN revenue_attribution a ON a.visitor_id = x.visitor_id AND a.created >= x.exposed_at
),
exposed AS (
    SELECT experiment, variant, count(*) AS visitors
    FROM int_visitor_experiments
    GROUP BY experiment, variant
),
converted AS (
    SELECT
        experiment,
        variant,
        count(DISTINCT visitor_id) AS converting_visitors,
        count(*) AS charge_count,
        sum(gross_settlement) AS gross_settlement,
        sum(net_sales_settlement) AS net_sales_settlement
    FROM conversions
    GROUP BY experiment, variant
)
SELECT
    e.experiment,
    e.variant,
    e.visitors,
    COALESCE(c.converting_visitors, 0) AS converting_visitors,
    COALESCE(c.charge_count, 0) AS charge_count,
    COALESCE(c.gross_settlement, 0) AS gross_settlement,
    COALESCE(c.net_sales_settlement, 0) AS net_sales_settlement,
    sl_div_2dp(COALESCE(c.gross_settlement, 0), e.visitors) AS revenue_per_visitor,
    sl_div_2dp(COALESCE(c.net_sales_settlement, 0), e.visitors) AS net_sales_per_visitor,
    sl_div_2dp(100 * COALESCE(c.converting_visitors, 0), e.visitors) AS conversion_rate_pct
FROM exposed e
LEFT JOIN converted c ON c.experiment = e.experiment AND c.variant IS NOT DISTINCT FROM e.variant
ORDER BY e.experiment, e.variant
