-- unique: account, customer_key
-- One row per customer_key (METRICS.md §5: the Stripe customer, else the normalised billing
-- email of a guest payment, else the charge): first and last payment, counts, and the realized
-- LTV = net sales (gross − refunds − disputes, before Stripe fees) over all history.
--
-- Columns:
--   customer_key: the Stripe customer id, else `email:` + normalised billing email, else `charge:` +
--       charge id
--   customer_id: Stripe customer id when there is one
--   email: the customer's email, lowercased and trimmed
--   name: the customer's name
--   customer_created_date: the day the Customer object was created
--   first_payment_date: the day of the first `charge` balance transaction
--   last_payment_date: the day of the latest `charge` balance transaction
--   charge_count: number of `charge` balance transactions
--   refund_count: number of `refund` balance transactions
--   dispute_count: number of `dispute` balance transactions
--   failed_payment_count: failed charges
--   gross_settlement: Σ gross charges, settlement minor units
--   refunds_settlement: Σ refunds, settlement minor units
--   disputes_settlement: Σ disputes, settlement minor units
--   fees_settlement: Σ Stripe fees on the customer's transactions, settlement minor units
--   ltv_realized: net sales over all history (gross − refunds − disputes, before fees)
--   account: Stripe account id
WITH ledger AS (
    SELECT
        account,
        customer_key,
        min(CASE WHEN category = 'charge' THEN date END) AS first_payment_date,
        max(CASE WHEN category = 'charge' THEN date END) AS last_payment_date,
        sum(CASE WHEN category = 'charge' THEN 1 ELSE 0 END) AS charge_count,
        sum(CASE WHEN category = 'refund' THEN 1 ELSE 0 END) AS refund_count,
        sum(CASE WHEN category = 'dispute' THEN 1 ELSE 0 END) AS dispute_count,
        sum(gross_settlement) AS gross_settlement,
        sum(refunds_settlement) AS refunds_settlement,
        sum(disputes_settlement) AS disputes_settlement,
        sum(CASE WHEN category <> 'fee' THEN fees_settlement ELSE 0 END) AS fees_settlement
    FROM int_ledger
    WHERE category <> 'fee'
    GROUP BY account, customer_key
),
failed AS (
    SELECT
        account,
        COALESCE(customer, 'email:' || lower(trim(billing_email)), 'charge:' || id) AS customer_key,
        count(*) AS failed_payment_count
    FROM stg_charges
    WHERE status = 'failed'
    GROUP BY 1, 2
)
SELECT
    l.customer_key,
    c.id AS customer_id,
    lower(trim(COALESCE(c.email,
        CASE WHEN l.customer_key LIKE 'email:%' THEN substr(l.customer_key, 7) END))) AS email,
    c.name,
    sl_day(c.created, cfg.report_timezone) AS customer_created_date,
    l.first_payment_date,
    l.last_payment_date,
    l.charge_count,
    l.refund_count,
    l.dispute_count,
    COALESCE(f.failed_payment_count, 0) AS failed_payment_count,
    l.gross_settlement,
    l.refunds_settlement,
    l.disputes_settlement,
    l.fees_settlement,
    l.gross_settlement - l.refunds_settlement - l.disputes_settlement AS ltv_realized,
    l.account
FROM stg_settings cfg
CROSS JOIN ledger l
LEFT JOIN stg_customers c ON c.account = l.account AND c.id = l.customer_key
LEFT JOIN failed f ON f.account = l.account AND f.customer_key = l.customer_key
