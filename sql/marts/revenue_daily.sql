-- unique: date, currency
-- METRICS.md §2: one row per (date, presentment currency) with any included balance transaction
-- or failed charge that day. Presentment columns never sum across currencies; *_settlement do.
--
-- Columns:
--   date: the day (report time zone) of the balance transactions' `created`
--   currency: presentment currency (the currency the customer paid in; settlement currency for
--       standalone fees)
--   gross_charges: captured and not failed charge amount, presentment minor units
--   gross_charges_settlement: the same in settlement minor units (Σ BT.amount of charge,
--       partial_capture_reversal, charge_failure)
--   charge_count: number of `charge` balance transactions
--   refunds: refunded amount net of failed refunds, presentment minor units (positive, subtracted)
--   refunds_settlement: the same in settlement minor units
--   refund_count: number of `refund` balance transactions (failed refunds do not decrement it)
--   disputes: disputed amount net of reversals, presentment minor units (positive, subtracted)
--   disputes_settlement: the same in settlement minor units
--   dispute_count: number of `dispute` balance transactions
--   fees_settlement: Stripe fees of included BTs plus standalone fees, settlement minor units
--   net_revenue_settlement: gross − refunds − disputes − fees, settlement minor units (= Σ BT.net)
--   failed_payment_count: charges with status `failed` created that day in this currency
--   failed_payment_amount: their amount, presentment minor units
WITH ledger AS (
    SELECT
        date,
        currency,
        sum(gross) AS gross_charges,
        sum(gross_settlement) AS gross_charges_settlement,
        sum(CASE WHEN category = 'charge' THEN 1 ELSE 0 END) AS charge_count,
        sum(refunds) AS refunds,
        sum(refunds_settlement) AS refunds_settlement,
        sum(CASE WHEN category = 'refund' THEN 1 ELSE 0 END) AS refund_count,
        sum(disputes) AS disputes,
        sum(disputes_settlement) AS disputes_settlement,
        sum(CASE WHEN category = 'dispute' THEN 1 ELSE 0 END) AS dispute_count,
        sum(fees_settlement) AS fees_settlement
    FROM int_ledger
    GROUP BY date, currency
),
failed AS (
    SELECT
        sl_day(c.created, s.report_timezone) AS date,
        c.currency,
        count(*) AS failed_payment_count,
        sum(c.amount) AS failed_payment_amount
    FROM stg_settings s
    CROSS JOIN stg_charges c
    WHERE c.status = 'failed'
    GROUP BY 1, 2
),
keys AS (
    SELECT date, currency FROM ledger
    UNION
    SELECT date, currency FROM failed
)
SELECT
    k.date,
    k.currency,
    COALESCE(l.gross_charges, 0) AS gross_charges,
    COALESCE(l.gross_charges_settlement, 0) AS gross_charges_settlement,
    COALESCE(l.charge_count, 0) AS charge_count,
    COALESCE(l.refunds, 0) AS refunds,
    COALESCE(l.refunds_settlement, 0) AS refunds_settlement,
    COALESCE(l.refund_count, 0) AS refund_count,
    COALESCE(l.disputes, 0) AS disputes,
    COALESCE(l.disputes_settlement, 0) AS disputes_settlement,
    COALESCE(l.dispute_count, 0) AS dispute_count,
    COALESCE(l.fees_settlement, 0) AS fees_settlement,
    COALESCE(l.gross_charges_settlement - l.refunds_settlement - l.disputes_settlement
        - l.fees_settlement, 0) AS net_revenue_settlement,
    COALESCE(f.failed_payment_count, 0) AS failed_payment_count,
    COALESCE(f.failed_payment_amount, 0) AS failed_payment_amount
FROM keys k
LEFT JOIN ledger l ON l.date = k.date AND l.currency = k.currency
LEFT JOIN failed f ON f.date = k.date AND f.currency = k.currency
ORDER BY k.date, k.currency
