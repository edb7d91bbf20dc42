-- unique: account, charge_id
-- METRICS.md §6: one row per succeeded (captured) charge with the web visitor it is attributed to, how it
-- was matched, and the visitor's first and last touch. Refunds and disputes of the charge carry
-- the same attribution (their settlement amounts are on the row, whenever they happened);
-- unattributed charges have `match_method = 'none'` and stay in every total.
--
-- Columns:
--   account: the Stripe account (`acct_…`) the charge belongs to
--   charge_id: the succeeded charge
--   created: when the charge was created (UTC)
--   date: the charge's day (report time zone)
--   customer_key: `charge.customer`, else `email:` + normalised billing email, else `charge:` + id
--   currency: presentment currency of the charge
--   amount: charge amount, presentment minor units
--   gross_settlement: the charge's gross balance transactions (charge, partial capture reversal,
--       charge failure), settlement minor units
--   refunds_settlement: its refunds net of failed refunds, settlement minor units (positive)
--   disputes_settlement: its disputes net of reversals, settlement minor units (positive)
--   net_sales_settlement: gross − refunds − disputes, settlement minor units (before fees)
--   visitor_id: the attributed web visitor; NULL when no rule matched
--   match_method: client_reference_id, metadata:payment_intent, metadata:invoice,
--       metadata:subscription, metadata:checkout_session, metadata:customer, email, or none
--   match_key: the metadata key that matched (for metadata:* methods)
--   checkout_session: the completed Checkout Session linked to the charge, if any
--   site_id: `metadata.site_id` on the payment intent, invoice, subscription, checkout session or
--       customer (first found), else the site of the visitor's latest session at or before the
--       charge, else of their first session
--   first_touch_channel: channel of the visitor's earliest session (no lookback)
--   first_touch_source: source (utm_source, else referrer host, else `(direct)`) of that session
--   first_touch_campaign: utm_campaign of that session
--   first_touch_at: when that session started
--   last_touch_channel: channel of the latest non-Direct session at most 30 days before the
--       charge (Stripe payment hosts count as Direct), else `Direct`
--   last_touch_source: source of that session, else `(direct)`
--   last_touch_campaign: utm_campaign of that session
--   last_touch_at: when that session started; NULL when the last touch is Direct by default
WITH money AS (
    SELECT
        account,
        charge_id,
        sum(gross_settlement) AS gross_settlement,
        sum(refunds_settlement) AS refunds_settlement,
        sum(disputes_settlement) AS disputes_settlement
    FROM int_ledger
    WHERE charge_id IS NOT NULL
    GROUP BY account, charge_id
),
touched AS (
    SELECT l.account, l.charge_id, l.created, a.visitor_id
    FROM int_charge_links l
    JOIN int_charge_visitors a ON a.account = l.account AND a.charge_id = l.charge_id
    WHERE a.visitor_id IS NOT NULL
),
last_touch AS (
    SELECT
        t.account,
        t.charge_id,
        s.channel,
        s.source,
        s.campaign,
        s.started_at,
        row_number() OVER (
            PARTITION BY t.account, t.charge_id ORDER BY s.started_at DESC, s.session_key
        ) AS n
    FROM touched t
    JOIN int_visitor_sessions s
        ON s.visitor_id = t.visitor_id
        AND s.started_at <= t.created
        AND s.started_at >= t.created - INTERVAL '30 days'
        AND s.channel <> 'Direct'
),
latest_site AS (
    SELECT
        t.account,
        t.charge_id,
        s.site_id,
        row_number() OVER (
            PARTITION BY t.account, t.charge_id ORDER BY s.started_at DESC, s.session_key
        ) AS n
    FROM touched t
    JOIN int_visitor_sessions s
        ON s.visitor_id = t.visitor_id AND s.started_at <= t.created AND s.site_id IS NOT NULL
)
SELECT
    l.account,
    l.charge_id,
    l.created,
    sl_day(l.created, cfg.report_timezone) AS date,
    l.customer_key,
    l.currency,
    l.amount,
    COALESCE(m.gross_settlement, 0) AS gross_settlement,
    COALESCE(m.refunds_settlement, 0) AS refunds_settlement,
    COALESCE(m.disputes_settlement, 0) AS disputes_settlement,
    COALESCE(m.gross_settlement - m.refunds_settlement - m.disputes_settlement, 0)
        AS net_sales_settlement,
    a.visitor_id,
    a.match_method,
    a.match_key,
    l.checkout_session,
    COALESCE(
        sl_json_key(l.payment_intent_metadata, 'site_id'),
        sl_json_key(l.invoice_metadata, 'site_id'),
        sl_json_key(l.subscription_metadata, 'site_id'),
        sl_json_key(l.checkout_metadata, 'site_id'),
        sl_json_key(l.customer_metadata, 'site_id'),
        ls.site_id,
        v.first_touch_site_id
    ) AS site_id,
    v.first_touch_channel,
    v.first_touch_source,
    v.first_touch_campaign,
    v.first_seen_at AS first_touch_at,
    CASE WHEN a.visitor_id IS NOT NULL THEN COALESCE(lt.channel, 'Direct') END
        AS last_touch_channel,
    CASE WHEN a.visitor_id IS NOT NULL THEN COALESCE(lt.source, '(direct)') END
        AS last_touch_source,
    lt.campaign AS last_touch_campaign,
    lt.started_at AS last_touch_at
FROM stg_settings cfg
CROSS JOIN int_charge_links l
JOIN int_charge_visitors a ON a.account = l.account AND a.charge_id = l.charge_id
LEFT JOIN money m ON m.account = l.account AND m.charge_id = l.charge_id
LEFT JOIN int_visitors v ON v.visitor_id = a.visitor_id
LEFT JOIN last_touch lt ON lt.account = l.account AND lt.charge_id = l.charge_id AND lt.n = 1
LEFT JOIN latest_site ls ON ls.account = l.account AND ls.charge_id = l.charge_id AND ls.n = 1
ORDER BY l.created, l.charge_id
