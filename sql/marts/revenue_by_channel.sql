-- unique: date, site_id, channel
-- Revenue per day, site and first-touch channel (METRICS.md §6): every balance transaction of
-- revenue_daily, with refunds and disputes inheriting their charge's attribution. Revenue no
-- visitor could be matched to (and standalone fees) is channel `Unattributed`, so each day's rows
-- add up to revenue_daily's settlement columns (checked by check_attribution_totals).
--
-- Columns:
--   date: the day (report time zone) of the balance transactions' `created`
--   site_id: the charge's site (see revenue_attribution.site_id); NULL when none is known
--   channel: first-touch channel of the attributed visitor, or `Unattributed`
--   gross_settlement: gross charges, settlement minor units
--   charge_count: number of `charge` balance transactions
--   refunds_settlement: refunds net of failed refunds, settlement minor units (positive)
--   disputes_settlement: disputes net of reversals, settlement minor units (positive)
--   fees_settlement: Stripe fees, settlement minor units
--   net_sales_settlement: gross − refunds − disputes, settlement minor units (before fees)
--   net_revenue_settlement: gross − refunds − disputes − fees, settlement minor units
--   visitors: distinct attributed visitors behind that day's rows
SELECT
    g.date,
    a.site_id,
    COALESCE(a.first_touch_channel, 'Unattributed') AS channel,
    sum(g.gross_settlement) AS gross_settlement,
    sum(CASE WHEN g.category = 'charge' THEN 1 ELSE 0 END) AS charge_count,
    sum(g.refunds_settlement) AS refunds_settlement,
    sum(g.disputes_settlement) AS disputes_settlement,
    sum(g.fees_settlement) AS fees_settlement,
    sum(g.gross_settlement - g.refunds_settlement - g.disputes_settlement) AS net_sales_settlement,
    sum(g.gross_settlement - g.refunds_settlement - g.disputes_settlement - g.fees_settlement)
        AS net_revenue_settlement,
    count(DISTINCT a.visitor_id) AS visitors
FROM int_ledger g
LEFT JOIN revenue_attribution a ON a.account = g.account AND a.charge_id = g.charge_id
GROUP BY g.date, a.site_id, COALESCE(a.first_touch_channel, 'Unattributed')
ORDER BY g.date, a.site_id, channel
