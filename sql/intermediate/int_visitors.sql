-- One row per known visitor (any visitor id in the web data): first touch is the earliest
-- session, with no lookback limit, Direct included (METRICS.md §6.2).
WITH ranked AS (
    SELECT
        *,
        row_number() OVER (PARTITION BY visitor_id ORDER BY started_at, session_key) AS n,
        count(*) OVER (PARTITION BY visitor_id) AS sessions
    FROM int_visitor_sessions
)
SELECT
    visitor_id,
    started_at AS first_seen_at,
    sessions,
    channel AS first_touch_channel,
    source AS first_touch_source,
    campaign AS first_touch_campaign,
    site_id AS first_touch_site_id
FROM ranked
WHERE n = 1
