-- METRICS.md §2.2 / §9: Σ revenue_daily.net_revenue_settlement = Σ BT.net over the included
-- reporting categories, read from the newest stored balance transactions directly.
WITH ledger AS (
    SELECT COALESCE(sum(b.net), 0) AS net
    FROM stg_balance_transactions b
    WHERE b.reporting_category IN (
        'charge', 'partial_capture_reversal', 'charge_failure', 'refund', 'refund_failure',
        'dispute', 'dispute_reversal', 'fee'
    )
),
revenue AS (
    SELECT COALESCE(sum(net_revenue_settlement), 0) AS net FROM revenue_daily
)
SELECT ledger.net AS ledger_net, revenue.net AS revenue_net
FROM ledger
CROSS JOIN revenue
WHERE ledger.net <> revenue.net
