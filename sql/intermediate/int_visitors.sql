-- unique: visitor_id
-- One row per known visitor (any visitor id in the web data): first touch is the earliest
-- session, with no lookback limit, Direct included (METRICS.md §6.2). The earliest session is
-- the first of each visitor in one global ordering (cheaper than a window per visitor).
WITH ordered AS (
    SELECT
        *,
        lag(visitor_id) OVER (ORDER BY visitor_id, started_at, session_key) AS previous_visitor
    FROM int_visitor_sessions
)
SELECT
    visitor_id,
    started_at AS first_seen_at,
    channel AS first_touch_channel,
    source AS first_touch_source,
    campaign AS first_touch_campaign,
    site_id AS first_touch_site_id
FROM ordered
WHERE previous_visitor IS DISTINCT FROM visitor_id
