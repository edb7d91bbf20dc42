-- unique: range_name
-- The KPI ranges: explicit ones as given, configured windows (`kpi_windows_days`) as the last N
-- days through as_of.
SELECT
    w.range_name,
    COALESCE(w.start_date, sl_add_days(cfg.as_of, 1 - w.days)) AS start_date,
    COALESCE(w.end_date, cfg.as_of) AS end_date
FROM stg_settings cfg
CROSS JOIN kpi_windows w
WHERE COALESCE(w.end_date, cfg.as_of) IS NOT NULL
