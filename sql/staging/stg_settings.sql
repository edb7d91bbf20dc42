-- unique: (one row)
-- The options every model reads, resolved once: `params` (pipeline.toml [transform] and flags)
-- where set, else from the data.
--   as_of               last fully synced day: the day before the latest extraction, report zone
--   last_complete_day   that day whatever --as-of says (a later as-of is refused: the runner)
--   last_extracted_at   when the newest balance transaction, subscription or charge was extracted
--   settlement_currency the account's default_currency (METRICS.md conventions), else usd
--   livemode            live data when the lake holds any, else test data (never both)
--   session_timeout_minutes  inactivity that ends a web session ([visitors], default 30)
WITH extracted AS (
    SELECT max(_extracted_at) AS at FROM raw.balance_transactions
    UNION ALL SELECT max(_extracted_at) FROM raw.subscriptions
    UNION ALL SELECT max(_extracted_at) FROM raw.charges
),
modes AS (
    SELECT livemode FROM raw.balance_transactions
    UNION ALL SELECT livemode FROM raw.subscriptions
    UNION ALL SELECT livemode FROM raw.charges
),
account_currency AS (
    SELECT max(default_currency) AS currency FROM raw.account
)
SELECT
    COALESCE(
        p.as_of,
        CAST(sl_day((SELECT max(at) FROM extracted), p.report_timezone) - INTERVAL '1 day' AS DATE)
    ) AS as_of,
    CAST(sl_day((SELECT max(at) FROM extracted), p.report_timezone) - INTERVAL '1 day' AS DATE)
        AS last_complete_day,
    (SELECT max(at) FROM extracted) AS last_extracted_at,
    p.report_timezone,
    lower(COALESCE(p.settlement_currency, (SELECT currency FROM account_currency), 'usd')) AS settlement_currency,
    p.discount_mode,
    p.churn_recognition,
    COALESCE(p.livemode, (SELECT bool_or(livemode) FROM modes), false) AS livemode,
    p.session_timeout_minutes
FROM params p
