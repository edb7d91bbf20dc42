-- Each visitor's exposure to each experiment: the variant of their first event in it (ties: the
-- smallest variant), so a visitor counts once per experiment.
WITH exposures AS (
    SELECT
        visitor_id,
        experiment,
        variant,
        timestamp,
        row_number() OVER (
            PARTITION BY visitor_id, experiment ORDER BY timestamp, variant, source_file, line
        ) AS n
    FROM stg_visitor_events
    WHERE experiment IS NOT NULL
)
SELECT visitor_id, experiment, variant, timestamp AS exposed_at
FROM exposures
WHERE n = 1
