-- unique: account, dispute_id
-- One row per dispute: its charge and customer, the presentment amount, and the settlement money
-- withdrawn and reinstated by its balance transactions (zero, one or two of them).
--
-- Columns:
--   date: the day the dispute was created (report time zone)
--   dispute_id: Stripe dispute id
--   charge_id: the disputed charge
--   customer_key: as in `customers`
--   status: Stripe's dispute status (won, lost, needs_response, …)
--   reason: Stripe's dispute reason
--   currency: presentment currency
--   amount: disputed amount, presentment minor units
--   withdrawn_settlement: money withdrawn by the `dispute` BT, settlement minor units
--   reinstated_settlement: money returned by the `dispute_reversal` BT, settlement minor units
--   fees_settlement: dispute fees net of returned fees, settlement minor units
--   account: Stripe account id
WITH money AS (
    SELECT
        l.balance_transaction_id,
        l.category,
        l.disputes_settlement,
        l.fees_settlement,
        l.account,
        b.source AS dispute_id
    FROM int_ledger l
    JOIN stg_balance_transactions b
        ON b.account = l.account AND b.id = l.balance_transaction_id
    WHERE l.category IN ('dispute', 'dispute_reversal')
),
per_dispute AS (
    SELECT
        account,
        dispute_id,
        sum(CASE WHEN category = 'dispute' THEN disputes_settlement ELSE 0 END) AS withdrawn_settlement,
        -sum(CASE WHEN category = 'dispute_reversal' THEN disputes_settlement ELSE 0 END) AS reinstated_settlement,
        sum(fees_settlement) AS fees_settlement
    FROM money
    GROUP BY account, dispute_id
)
SELECT
    sl_day(d.created, cfg.report_timezone) AS date,
    d.id AS dispute_id,
    d.charge AS charge_id,
    COALESCE(ch.customer, 'email:' || lower(trim(ch.billing_email)), 'charge:' || d.charge) AS customer_key,
    d.status,
    d.reason,
    d.currency,
    d.amount,
    COALESCE(p.withdrawn_settlement, 0) AS withdrawn_settlement,
    COALESCE(p.reinstated_settlement, 0) AS reinstated_settlement,
    COALESCE(p.fees_settlement, 0) AS fees_settlement,
    d.account
FROM stg_settings cfg
CROSS JOIN stg_disputes d
LEFT JOIN stg_charges ch ON ch.account = d.account AND ch.id = d.charge
LEFT JOIN per_dispute p ON p.account = d.account AND p.dispute_id = d.id
