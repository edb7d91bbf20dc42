-- Web-analytics visitor events as `load-visitors` wrote them (DESIGN.md §6), each source file's
-- newest load only: a re-exported file replaces its earlier rows instead of doubling them.
-- Emails are already trimmed and lowercased by the loader.
WITH newest_loads AS (
    SELECT _source_file, max(_loaded_at) AS loaded_at
    FROM raw.visitor_events
    GROUP BY _source_file
)
SELECT
    e.visitor_id,
    e.timestamp,
    e.session_id,
    e.email,
    e.referrer,
    e.utm_source,
    e.utm_medium,
    e.utm_campaign,
    e.landing_page,
    e.country,
    e.device,
    e.browser,
    e.site_id,
    e.experiment,
    e.variant,
    e._source_file AS source_file,
    e._line AS line
FROM raw.visitor_events e
JOIN newest_loads n ON n._source_file = e._source_file AND n.loaded_at = e._loaded_at
