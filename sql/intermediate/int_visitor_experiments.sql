-- unique: visitor_id, experiment
-- Each visitor's exposure to each experiment: the variant of their first event in it (ties: the
-- smallest variant), so a visitor counts once per experiment. The first event is the first of
-- each (visitor, experiment) in one global ordering.
WITH ordered AS (
    SELECT
        visitor_id,
        experiment,
        variant,
        timestamp,
        lag(visitor_id) OVER by_exposure AS previous_visitor,
        lag(experiment) OVER by_exposure AS previous_experiment
    FROM stg_visitor_events
    WHERE experiment IS NOT NULL
    WINDOW by_exposure AS (ORDER BY visitor_id, experiment, timestamp, variant, line)
)
SELECT visitor_id, experiment, variant, timestamp AS exposed_at
FROM ordered
WHERE (previous_visitor IS DISTINCT FROM visitor_id)
    OR (previous_experiment IS DISTINCT FROM experiment)
