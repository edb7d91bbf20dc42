-- unique: date, currency
-- METRICS.md §3.6, rate source 2: settlement units per presentment unit for every day the MRR
-- tables cover, per presentment currency: the exchange_rate of the last `charge` BT on or before
-- the day, carried backward from the first one for the days before it. Refund BTs never set a rate.
-- The settlement currency has rate 1, and every row carries both exponents, so a model converts
-- with one join: `sl_convert(x, fx_rate, exponent_from, exponent_to)` (NULL without a rate).
WITH charge_rates AS (
    SELECT
        currency,
        date,
        exchange_rate,
        row_number() OVER (
            PARTITION BY currency, date ORDER BY created DESC, balance_transaction_id DESC
        ) AS n
    FROM int_ledger
    WHERE category = 'charge' AND exchange_rate IS NOT NULL
),
daily AS (
    SELECT currency, date, exchange_rate FROM charge_rates WHERE n = 1
),
first_rate AS (
    SELECT currency, exchange_rate AS rate
    FROM (
        SELECT *, row_number() OVER (PARTITION BY currency ORDER BY date) AS n FROM daily
    ) f
    WHERE n = 1
),
first_subscription AS (
    SELECT min(sl_day(sub.created, cfg.report_timezone)) AS first_day
    FROM stg_settings cfg
    CROSS JOIN stg_subscriptions sub
),
first_rate_day AS (
    SELECT min(date) AS first_day FROM daily
),
span AS (
    SELECT least(f.first_day, r.first_day) AS first_day, cfg.as_of
    FROM first_subscription f
    CROSS JOIN first_rate_day r
    CROSS JOIN stg_settings cfg
),
spine AS (
    SELECT f.currency, unnest(generate_series(span.first_day, span.as_of, INTERVAL '1 day')) AS date
    FROM first_rate f
    CROSS JOIN span
),
filled AS (
    SELECT
        spine.currency,
        spine.date,
        d.exchange_rate,
        count(d.exchange_rate) OVER (
            PARTITION BY spine.currency ORDER BY spine.date
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS run
    FROM spine
    LEFT JOIN daily d ON d.currency = spine.currency AND d.date = spine.date
),
implied AS (
    SELECT
        f.date,
        f.currency,
        COALESCE(
            max(f.exchange_rate) OVER (PARTITION BY f.currency, f.run),
            CASE WHEN f.run = 0 THEN r.rate END
        ) AS fx_rate
    FROM filled f
    JOIN first_rate r ON r.currency = f.currency
),
settlement AS (
    SELECT
        unnest(generate_series(span.first_day, span.as_of, INTERVAL '1 day')) AS date,
        cfg.settlement_currency AS currency,
        CAST(1 AS DECIMAL(28, 12)) AS fx_rate
    FROM stg_settings cfg
    CROSS JOIN span
    WHERE span.first_day IS NOT NULL
),
rates AS (
    SELECT * FROM implied
    UNION ALL
    SELECT * FROM settlement
)
SELECT
    r.date,
    r.currency,
    r.fx_rate,
    COALESCE(ef.exponent, 2) AS exponent_from,
    COALESCE(et.exponent, 2) AS exponent_to
FROM stg_settings cfg
CROSS JOIN rates r
LEFT JOIN currency_exponents ef ON ef.currency = r.currency
LEFT JOIN currency_exponents et ON et.currency = cfg.settlement_currency
