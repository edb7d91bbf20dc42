-- unique: visitor_id, session_key, started_at
-- Web sessions (METRICS.md §6.2): a visitor's events grouped by the export's session id, or,
-- for events without one, a new session after `session_timeout_minutes` of inactivity. A
-- session's referrer, tags, landing page, site and device are its first event's; its channel and
-- source follow from them (`sl_channel`: Stripe payment hosts count as Direct, and a referrer on
-- the landing page's own host counts as none).
-- One ordering serves every step: all events by visitor, session id (none for the timed-out
-- kind) and time. A row starts a session when it is the first of its visitor and session id,
-- or (without a session id) when the gap before it exceeds the timeout; the starting rows are
-- the sessions. (One global ordering instead of a partition per session: millions of tiny
-- window partitions cost far more than one sort.)
WITH events AS (
    SELECT
        e.visitor_id,
        e.session_id,
        COALESCE(e.session_id, '') AS session_group,
        e.timestamp,
        sl_seconds(e.timestamp) AS t,
        e.line,
        e.referrer,
        e.utm_source,
        e.utm_medium,
        e.utm_campaign,
        e.landing_page,
        e.site_id,
        e.country,
        e.device,
        e.browser,
        s.session_timeout_minutes * 60 AS timeout,
        s.report_timezone
    FROM stg_settings s
    CROSS JOIN stg_visitor_events e
),
gaps AS (
    SELECT
        *,
        CASE
            WHEN lag(visitor_id) OVER by_time IS DISTINCT FROM visitor_id THEN 1
            WHEN lag(session_group) OVER by_time IS DISTINCT FROM session_group THEN 1
            WHEN session_id IS NULL AND t - lag(t) OVER by_time > timeout THEN 1
            ELSE 0
        END AS starts_session
    FROM events
    WINDOW by_time AS (ORDER BY visitor_id, session_group, t, line)
),
numbered AS (
    SELECT
        *,
        sum(starts_session) OVER (
            ORDER BY visitor_id, session_group, t, line
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS session_number
    FROM gaps
)
SELECT
    visitor_id,
    COALESCE(session_id, 'inactivity:' || CAST(session_number AS VARCHAR)) AS session_key,
    timestamp AS started_at,
    sl_day(t, report_timezone) AS date,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign AS campaign,
    sl_channel(outside_referrer, utm_source, utm_medium) AS channel,
    sl_source(outside_referrer, utm_source) AS source,
    landing_page,
    site_id,
    country,
    device,
    browser
FROM (
    -- A referrer on the landing page's own host is a click within the site, not a source.
    SELECT
        *,
        CASE WHEN sl_host(referrer) = sl_host(landing_page) THEN NULL ELSE referrer END
            AS outside_referrer
    FROM numbered
    WHERE starts_session = 1
) sessions
