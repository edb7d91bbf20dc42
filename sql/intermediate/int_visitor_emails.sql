-- unique: email, visitor_id
-- Which visitors identified themselves with which email (normalised, METRICS.md §6.1 rule 7).
SELECT DISTINCT lower(trim(email)) AS email, visitor_id
FROM stg_visitor_events
WHERE email IS NOT NULL AND trim(email) <> ''
