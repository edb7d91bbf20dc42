-- unique: account, subscription_id, source, tiebreak
-- The exact states of every subscription (METRICS.md §1 item 6a–b): `data.object` of each
-- customer.subscription.* event at the event's time, and each stored extraction at its
-- extraction time. Its own model so the JSON is extracted once per run.
WITH events AS (
    SELECT
        e.account,
        e.object_id AS subscription_id,
        sl_seconds(e.created) AS at,
        'event' AS source,
        -- Events of one second in lifecycle order (their ids are random): created, then
        -- updates, then deleted.
        CASE
            WHEN e.type = 'customer.subscription.created' THEN 1
            WHEN e.type = 'customer.subscription.deleted' THEN 3
            ELSE 2
        END AS source_rank,
        e.id AS tiebreak,
        e.type AS event_type,
        sl_json(e.raw, 'data.object') AS state,
        e.previous_attributes
    FROM stg_events e
    WHERE e.object_type = 'subscription'
      AND e.type LIKE 'customer.subscription.%'
),
versions AS (
    SELECT
        v._account AS account,
        v.id AS subscription_id,
        sl_seconds(v._extracted_at) AS at,
        'version' AS source,
        4 AS source_rank,
        v._run_id AS tiebreak,
        CAST(NULL AS VARCHAR) AS event_type,
        v._raw AS state,
        CAST(NULL AS VARCHAR) AS previous_attributes
    FROM stg_settings s
    CROSS JOIN raw.subscriptions v
    WHERE COALESCE(v.livemode, s.livemode) = s.livemode AND NOT v._deleted
)
SELECT * FROM events
UNION ALL
SELECT * FROM versions
