-- unique: range_name, rank
-- The last 10 included balance transactions of each KPI range, newest first.
--
-- Columns:
--   range_name: as in `kpi_summary`
--   rank: 1 = newest
--   balance_transaction_id: Stripe balance transaction id
--   created: when it happened (UTC)
--   category: its reporting category
--   charge_id: the charge it belongs to, when there is one
--   customer_key: as in `customers`
--   currency: presentment currency
--   presentment_amount: gross, refund or dispute amount, presentment minor units
--   net_settlement: its net effect on revenue, settlement minor units
SELECT *
FROM (
    SELECT
        r.range_name,
        row_number() OVER (
            PARTITION BY r.range_name ORDER BY l.created DESC, l.balance_transaction_id DESC
        ) AS rank,
        l.balance_transaction_id,
        l.created,
        l.category,
        l.charge_id,
        l.customer_key,
        l.currency,
        l.gross + l.refunds + l.disputes AS presentment_amount,
        l.gross_settlement - l.refunds_settlement - l.disputes_settlement - l.fees_settlement
            AS net_settlement
    FROM int_kpi_ranges r
    JOIN int_ledger l ON l.date BETWEEN r.start_date AND r.end_date
) ranked
WHERE rank <= 10
