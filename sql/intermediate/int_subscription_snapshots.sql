-- Every known full state of every subscription (METRICS.md §1 item 6) and where it came from:
--   event          `data.object` of a customer.subscription.* event, at the event's time (exact)
--   version        a stored extraction of the subscription, at its extraction time (exact)
--   reconstructed  the time before the first exact state: that state's predecessor (the first
--                  event with its previous_attributes undone, or the first stored version),
--                  placed at the subscription's immutable timestamps (created, trial_end,
--                  ended_at) and at the start of every invoice line, with the items the
--                  invoice lines say were billed then (regular lines per period, proration
--                  lines at mid-cycle changes); int_subscription_states derives the status.
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
    FROM raw.subscriptions v
    CROSS JOIN stg_settings s
    WHERE COALESCE(v.livemode, s.livemode) = s.livemode AND NOT v._deleted
),
exact AS (
    SELECT * FROM events
    UNION ALL
    SELECT * FROM versions
),
first_exact AS (
    SELECT
        account,
        subscription_id,
        at AS first_at,
        CASE
            WHEN event_type = 'customer.subscription.created' THEN NULL
            WHEN source = 'event' THEN sl_json_patch(state, previous_attributes)
            ELSE state
        END AS base
    FROM (
        SELECT
            *,
            row_number() OVER (
                PARTITION BY account, subscription_id ORDER BY at, source_rank, tiebreak
            ) AS n
        FROM exact
    ) ranked
    WHERE n = 1
),
moments AS (
    SELECT account, subscription_id, first_at, base, CAST(sl_json(base, 'created') AS BIGINT) AS at
    FROM first_exact
    UNION ALL
    SELECT account, subscription_id, first_at, base, CAST(sl_json(base, 'trial_end') AS BIGINT)
    FROM first_exact
    UNION ALL
    SELECT account, subscription_id, first_at, base, CAST(sl_json(base, 'ended_at') AS BIGINT)
    FROM first_exact
),
invoice_lines AS (
    SELECT account, subscription AS subscription_id, array_agg(raw) AS lines
    FROM stg_invoice_line_items
    WHERE subscription IS NOT NULL
    GROUP BY account, subscription
),
line_moments AS (
    SELECT DISTINCT f.account, f.subscription_id, f.first_at, f.base, sl_seconds(l.period_start) AS at
    FROM first_exact f
    JOIN stg_invoice_line_items l
        ON l.account = f.account AND l.subscription = f.subscription_id
),
all_moments AS (
    SELECT * FROM moments
    UNION
    SELECT account, subscription_id, first_at, base, at FROM line_moments
),
reconstructed AS (
    SELECT
        m.account,
        m.subscription_id,
        m.at,
        'reconstructed' AS source,
        0 AS source_rank,
        CAST(m.at AS VARCHAR) AS tiebreak,
        CAST(NULL AS VARCHAR) AS event_type,
        sl_reconstruct(m.base, l.lines, m.at) AS state,
        CAST(NULL AS VARCHAR) AS previous_attributes
    FROM all_moments m
    LEFT JOIN invoice_lines l
        ON l.account = m.account AND l.subscription_id = m.subscription_id
    WHERE m.base IS NOT NULL AND m.at IS NOT NULL AND m.at < m.first_at
)
SELECT account, subscription_id, at, source, source_rank, tiebreak, state FROM exact
UNION ALL
SELECT account, subscription_id, at, source, source_rank, tiebreak, state FROM reconstructed
