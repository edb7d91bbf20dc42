-- unique: source_file, line
-- Web-analytics visitor events as `load-visitors` committed them (DESIGN.md §6). The loader
-- already keeps each source file's newest load only (a re-exported file replaces its rows) and
-- trims and lowercases emails, so staging is a projection; a view, because the table can hold
-- tens of millions of rows that its readers only scan once.
-- Materialized: view
SELECT
    visitor_id,
    timestamp,
    session_id,
    email,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign,
    landing_page,
    country,
    device,
    browser,
    site_id,
    experiment,
    variant,
    _source_file AS source_file,
    _line AS line
FROM raw.visitor_events
