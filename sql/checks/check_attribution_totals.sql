-- DESIGN.md §6 / issue #5: Σ attributed + unattributed revenue = total revenue for every day —
-- revenue_by_channel's rows of a day add up to revenue_daily's settlement columns.
WITH by_channel AS (
    SELECT
        date,
        sum(gross_settlement) AS gross,
        sum(refunds_settlement) AS refunds,
        sum(disputes_settlement) AS disputes,
        sum(fees_settlement) AS fees,
        sum(net_revenue_settlement) AS net,
        sum(charge_count) AS charges
    FROM revenue_by_channel
    GROUP BY date
),
daily AS (
    SELECT
        date,
        sum(gross_charges_settlement) AS gross,
        sum(refunds_settlement) AS refunds,
        sum(disputes_settlement) AS disputes,
        sum(fees_settlement) AS fees,
        sum(net_revenue_settlement) AS net,
        sum(charge_count) AS charges
    FROM revenue_daily
    GROUP BY date
)
SELECT COALESCE(d.date, c.date) AS date, d.gross, c.gross AS attributed_gross, d.net,
    c.net AS attributed_net
FROM daily d
FULL OUTER JOIN by_channel c ON c.date = d.date
WHERE COALESCE(d.gross, 0) <> COALESCE(c.gross, 0)
    OR COALESCE(d.refunds, 0) <> COALESCE(c.refunds, 0)
    OR COALESCE(d.disputes, 0) <> COALESCE(c.disputes, 0)
    OR COALESCE(d.fees, 0) <> COALESCE(c.fees, 0)
    OR COALESCE(d.net, 0) <> COALESCE(c.net, 0)
    OR COALESCE(d.charges, 0) <> COALESCE(c.charges, 0)
