-- Web sessions (METRICS.md §6.2): a visitor's events grouped by the export's session id, or,
-- for events without one, a new session after `session_timeout_minutes` of inactivity. A
-- session's referrer, tags, landing page, site and device are its first event's; its channel and
-- source follow from them (`sl_channel`: Stripe payment hosts count as Direct).
WITH events AS (
    SELECT
        e.*,
        sl_seconds(e.timestamp) AS t,
        s.session_timeout_minutes * 60 AS timeout,
        s.report_timezone
    FROM stg_settings s
    CROSS JOIN stg_visitor_events e
),
gaps AS (
    SELECT
        *,
        CASE
            WHEN session_id IS NOT NULL THEN 0
            WHEN t - lag(t) OVER (
                PARTITION BY visitor_id, session_id IS NULL ORDER BY t, source_file, line
            ) <= timeout THEN 0
            ELSE 1
        END AS starts_session
    FROM events
),
keyed AS (
    SELECT
        *,
        COALESCE(
            session_id,
            'inactivity:' || CAST(sum(starts_session) OVER (
                PARTITION BY visitor_id, session_id IS NULL ORDER BY t, source_file, line
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS VARCHAR)
        ) AS session_key
    FROM gaps
),
ordered AS (
    SELECT
        *,
        row_number() OVER (PARTITION BY visitor_id, session_key ORDER BY t, source_file, line) AS n,
        count(*) OVER (PARTITION BY visitor_id, session_key) AS events
    FROM keyed
)
SELECT
    visitor_id,
    session_key,
    timestamp AS started_at,
    sl_day(t, report_timezone) AS date,
    events,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign AS campaign,
    sl_channel(referrer, utm_source, utm_medium) AS channel,
    sl_source(referrer, utm_source) AS source,
    landing_page,
    site_id,
    country,
    device,
    browser
FROM ordered
WHERE n = 1
