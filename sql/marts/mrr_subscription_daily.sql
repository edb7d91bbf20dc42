-- unique: account, subscription_id, date
-- METRICS.md §3: MRR per subscription per day, from the creation day through the day it ended
-- (which shows MRR 0) or through as_of. A day's state is the state at its last instant, so an
-- interval [valid_from, valid_to) covers the days from date(valid_from) to date(valid_to) − 1.
--
-- Columns:
--   date: the day (report time zone); the subscription's state at the day's last instant
--   subscription_id: Stripe subscription id
--   customer_id: Stripe customer id
--   currency: the subscription's currency
--   status: end-of-day status (active, past_due, trialing, canceled, …)
--   mrr: monthly recurring revenue, native minor units, rounded once per subscription per day
--   mrr_settlement: mrr converted to the settlement currency (NULL when no rate is known)
--   fx_rate: settlement units per unit of `currency` used for the conversion
--   state_source: where the state came from: event, version or reconstructed
--   account: Stripe account id (Connect) or the key's own account
WITH cfg AS (
    SELECT * FROM stg_settings
),
subs AS (
    SELECT
        sub.account,
        sub.id AS subscription_id,
        sub.customer AS customer_id,
        sub.currency,
        sl_day(sub.created, cfg.report_timezone) AS first_day,
        CASE
            WHEN sub.ended_at IS NULL THEN cfg.as_of
            ELSE least(sl_day(sub.ended_at, cfg.report_timezone), cfg.as_of)
        END AS last_day
    FROM cfg
    CROSS JOIN stg_subscriptions sub
),
spans AS (
    SELECT
        m.account,
        m.subscription_id,
        m.status,
        m.mrr,
        m.state_source,
        sl_day(m.valid_from, cfg.report_timezone) AS from_day,
        sl_add_days(sl_day(m.valid_to, cfg.report_timezone), -1) AS to_day
    FROM cfg
    CROSS JOIN int_subscription_state_mrr m
),
days AS (
    SELECT
        sp.account,
        sp.subscription_id,
        b.customer_id,
        b.currency,
        sp.status,
        sp.mrr,
        sp.state_source,
        unnest(generate_series(
            greatest(sp.from_day, b.first_day),
            least(COALESCE(sp.to_day, b.last_day), b.last_day),
            INTERVAL '1 day'
        )) AS date
    FROM spans sp
    JOIN subs b ON b.account = sp.account AND b.subscription_id = sp.subscription_id
)
SELECT
    d.date,
    d.subscription_id,
    d.customer_id,
    d.currency,
    d.status,
    d.mrr,
    sl_convert(d.mrr, fx.fx_rate, fx.exponent_from, fx.exponent_to) AS mrr_settlement,
    fx.fx_rate,
    d.state_source,
    d.account
FROM days d
LEFT JOIN int_fx_rates fx ON fx.date = d.date AND fx.currency = d.currency
