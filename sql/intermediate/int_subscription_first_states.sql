-- unique: account, subscription_id
-- Each subscription's earliest exact state, as it was just before that moment (`base`): the
-- first event with its previous_attributes undone, or the first stored version; NULL when the
-- first event is the creation (the history is then complete). Reconstruction starts from it.
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
    FROM int_subscription_exact_states
) ranked
WHERE n = 1
