-- unique: range_name
-- The KPI ranges: explicit ones as given; windows (`kpi_windows_days`, and the report's and
-- digest's comparison ranges) as the `days` days ending `offset_days` before as_of.
SELECT
    w.range_name,
    COALESCE(w.start_date, sl_add_days(cfg.as_of, 1 - w.days - w.offset_days)) AS start_date,
    COALESCE(w.end_date, sl_add_days(cfg.as_of, -w.offset_days)) AS end_date
FROM stg_settings cfg
CROSS JOIN kpi_windows w
WHERE COALESCE(w.end_date, cfg.as_of) IS NOT NULL
