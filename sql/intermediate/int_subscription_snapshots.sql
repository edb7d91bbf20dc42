-- unique: account, subscription_id, source, tiebreak
-- Every known full state of every subscription (METRICS.md §1 item 6) and where it came from:
--   event          `data.object` of a customer.subscription.* event, at the event's time (exact)
--   version        a stored extraction of the subscription, at its extraction time (exact)
--   reconstructed  the time before the first exact state: that state's predecessor (the first
--                  event with its previous_attributes undone, or the first stored version),
--                  placed at the subscription's immutable timestamps (created, trial_end,
--                  ended_at) and at the start of every invoice line, with the items the
--                  invoice lines say were billed then (regular lines per period, proration
--                  lines at mid-cycle changes); int_subscription_states derives the status.
WITH moments AS (
    SELECT account, subscription_id, first_at, base, CAST(sl_json(base, 'created') AS BIGINT) AS at
    FROM int_subscription_first_states
    UNION ALL
    SELECT account, subscription_id, first_at, base, CAST(sl_json(base, 'trial_end') AS BIGINT)
    FROM int_subscription_first_states
    UNION ALL
    SELECT account, subscription_id, first_at, base, CAST(sl_json(base, 'ended_at') AS BIGINT)
    FROM int_subscription_first_states
),
line_starts AS (
    SELECT DISTINCT account, subscription AS subscription_id, sl_seconds(period_start) AS at
    FROM stg_invoice_line_items
    WHERE subscription IS NOT NULL
),
line_moments AS (
    SELECT f.account, f.subscription_id, f.first_at, f.base, l.at
    FROM int_subscription_first_states f
    JOIN line_starts l ON l.account = f.account AND l.subscription_id = f.subscription_id
    WHERE f.base IS NOT NULL AND l.at < f.first_at
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
    LEFT JOIN int_subscription_invoice_lines l
        ON l.account = m.account AND l.subscription_id = m.subscription_id
    WHERE m.base IS NOT NULL AND m.at IS NOT NULL AND m.at < m.first_at
)
SELECT account, subscription_id, at, source, source_rank, tiebreak, state
FROM int_subscription_exact_states
UNION ALL
SELECT account, subscription_id, at, source, source_rank, tiebreak, state FROM reconstructed
