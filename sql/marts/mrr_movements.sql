-- unique: account, customer_id, currency, date
-- METRICS.md §4.1–§4.2: per customer × currency and day, compare M1 = the day's MRR with M0 =
-- the day before (0 when the customer had no subscription that day) and classify in the spec's
-- order. `ever` = the customer had MRR > 0 on some earlier day.
--
-- Columns:
--   date: the day (report time zone)
--   customer_id: Stripe customer id
--   currency: the currency of the customer's subscriptions that moved
--   movement_type: new, expansion, contraction, churn or reactivation
--   amount: the change, native minor units (contraction and churn are negative)
--   amount_settlement: the change in settlement minor units
--   mrr_before: the customer's MRR in this currency the day before
--   mrr_after: the customer's MRR in this currency that day
--   account: Stripe account id
WITH per_key AS (
    SELECT account, customer_id, currency, date, sum(mrr) AS m
    FROM mrr_subscription_daily
    GROUP BY account, customer_id, currency, date
),
compared AS (
    SELECT
        *,
        CASE
            WHEN lag(date) OVER (PARTITION BY account, customer_id, currency ORDER BY date)
                = sl_add_days(date, -1)
            THEN lag(m) OVER (PARTITION BY account, customer_id, currency ORDER BY date)
            ELSE 0
        END AS m0,
        COALESCE(max(CASE WHEN m > 0 THEN 1 ELSE 0 END) OVER (
            PARTITION BY account, customer_id, currency ORDER BY date
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ), 0) AS ever
    FROM per_key
),
classified AS (
    SELECT
        date,
        customer_id,
        currency,
        CASE
            WHEN m0 = 0 AND m > 0 AND ever = 0 THEN 'new'
            WHEN m0 = 0 AND m > 0 THEN 'reactivation'
            WHEN m0 > 0 AND m = 0 THEN 'churn'
            WHEN m > m0 THEN 'expansion'
            ELSE 'contraction'
        END AS movement_type,
        CASE WHEN m0 = 0 THEN m WHEN m = 0 THEN -m0 ELSE m - m0 END AS amount,
        m0 AS mrr_before,
        m AS mrr_after,
        account
    FROM compared
    WHERE m <> m0
)
SELECT
    c.date,
    c.customer_id,
    c.currency,
    c.movement_type,
    c.amount,
    sl_convert(c.amount, fx.fx_rate, fx.exponent_from, fx.exponent_to) AS amount_settlement,
    c.mrr_before,
    c.mrr_after,
    c.account
FROM classified c
LEFT JOIN int_fx_rates fx ON fx.date = c.date AND fx.currency = c.currency
