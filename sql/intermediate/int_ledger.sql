-- unique: account, balance_transaction_id
-- One row per balance transaction that revenue_daily includes (METRICS.md §2.1), with the
-- presentment currency and amount of its source object, signed contributions to every revenue
-- column (§2.2), and the customer_key of §5 (refunds and disputes inherit their charge's).
WITH included AS (
    SELECT b.*, sl_day(b.created, s.report_timezone) AS date
    FROM stg_settings s
    CROSS JOIN stg_balance_transactions b
    WHERE b.reporting_category IN (
        'charge', 'partial_capture_reversal', 'charge_failure', 'refund', 'refund_failure',
        'dispute', 'dispute_reversal', 'fee'
    )
),
charge_keys AS (
    SELECT
        account,
        id,
        currency,
        amount,
        amount_captured,
        COALESCE(customer, 'email:' || lower(trim(billing_email)), 'charge:' || id) AS customer_key
    FROM stg_charges
),
sourced AS (
    SELECT
        b.*,
        direct.currency AS charge_currency,
        direct.amount AS charge_amount,
        re.currency AS refund_currency,
        re.amount AS refund_amount,
        dp.currency AS dispute_currency,
        dp.amount AS dispute_amount,
        parent.amount - parent.amount_captured AS uncaptured_amount,
        COALESCE(direct.id, parent.id) AS charge_id,
        COALESCE(direct.customer_key, parent.customer_key) AS customer_key
    FROM included b
    LEFT JOIN charge_keys direct
        ON b.reporting_category = 'charge' AND direct.account = b.account AND direct.id = b.source
    LEFT JOIN stg_refunds re ON re.account = b.account AND re.id = b.source
    LEFT JOIN stg_disputes dp ON dp.account = b.account AND dp.id = b.source
    LEFT JOIN charge_keys parent
        ON parent.account = b.account AND parent.id = COALESCE(re.charge, dp.charge)
)
SELECT
    id AS balance_transaction_id,
    account,
    date,
    created,
    reporting_category AS category,
    charge_id,
    COALESCE(customer_key, 'balance_transaction:' || id) AS customer_key,
    -- Presentment currency: the source object's; standalone fees exist only in settlement.
    COALESCE(
        CASE
            WHEN reporting_category = 'charge' THEN charge_currency
            WHEN reporting_category IN ('dispute', 'dispute_reversal') THEN dispute_currency
            WHEN reporting_category = 'fee' THEN currency
            ELSE refund_currency
        END,
        currency
    ) AS currency,
    currency AS settlement_currency,
    exchange_rate,
    CASE reporting_category
        WHEN 'charge' THEN COALESCE(charge_amount, amount)
        WHEN 'partial_capture_reversal' THEN -COALESCE(uncaptured_amount, refund_amount, -amount)
        WHEN 'charge_failure' THEN -COALESCE(refund_amount, -amount)
        ELSE 0
    END AS gross,
    CASE WHEN reporting_category IN ('charge', 'partial_capture_reversal', 'charge_failure')
        THEN amount ELSE 0 END AS gross_settlement,
    CASE reporting_category
        WHEN 'refund' THEN COALESCE(refund_amount, -amount)
        WHEN 'refund_failure' THEN -COALESCE(refund_amount, amount)
        ELSE 0
    END AS refunds,
    CASE WHEN reporting_category IN ('refund', 'refund_failure') THEN -amount ELSE 0 END
        AS refunds_settlement,
    CASE reporting_category
        WHEN 'dispute' THEN COALESCE(dispute_amount, -amount)
        WHEN 'dispute_reversal' THEN -COALESCE(dispute_amount, amount)
        ELSE 0
    END AS disputes,
    CASE WHEN reporting_category IN ('dispute', 'dispute_reversal') THEN -amount ELSE 0 END
        AS disputes_settlement,
    CASE WHEN reporting_category = 'fee' THEN -amount ELSE fee END AS fees_settlement,
    net
FROM sourced
