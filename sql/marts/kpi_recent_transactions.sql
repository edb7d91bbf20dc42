-- The last 10 included balance transactions of each KPI range, newest first.
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
