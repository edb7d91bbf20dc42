-- unique: account, charge_id
-- The visitor of each succeeded charge (METRICS.md §6.1), first match wins: the linked Checkout
-- Session's client_reference_id; then the metadata of the PaymentIntent, Invoice, Subscription,
-- Checkout Session and Customer, in that order, each object read for every configured key
-- (`visitor_metadata_keys`, in order) before the next object; then the
-- normalised email. A candidate counts only when, trimmed, it is a known visitor id, so a foreign
-- id falls through to the next rule. Email: the charge's billing email, else the customer's, else
-- the checkout's; among visitors with that email, the one whose latest session at or before the
-- charge is most recent (ties: smallest visitor_id); visitors with no such session are ignored.
WITH metadata AS (
    SELECT account, charge_id, 2 AS rule_rank, 'metadata:payment_intent' AS match_method,
        payment_intent_metadata AS metadata
    FROM int_charge_links
    UNION ALL
    SELECT account, charge_id, 3, 'metadata:invoice', invoice_metadata FROM int_charge_links
    UNION ALL
    SELECT account, charge_id, 4, 'metadata:subscription', subscription_metadata
    FROM int_charge_links
    UNION ALL
    SELECT account, charge_id, 5, 'metadata:checkout_session', checkout_metadata
    FROM int_charge_links
    UNION ALL
    SELECT account, charge_id, 6, 'metadata:customer', customer_metadata FROM int_charge_links
),
candidates AS (
    SELECT account, charge_id, 1 AS rule_rank, 0 AS key_rank,
        'client_reference_id' AS match_method, CAST(NULL AS VARCHAR) AS match_key,
        trim(client_reference_id) AS candidate
    FROM int_charge_links
    WHERE client_reference_id IS NOT NULL
    UNION ALL
    SELECT m.account, m.charge_id, m.rule_rank, k.position, m.match_method, k.key,
        trim(sl_json_key(m.metadata, k.key))
    FROM metadata m
    CROSS JOIN visitor_metadata_keys k
    WHERE m.metadata IS NOT NULL
),
by_id AS (
    SELECT
        c.account,
        c.charge_id,
        v.visitor_id,
        c.match_method,
        c.match_key,
        row_number() OVER (
            PARTITION BY c.account, c.charge_id ORDER BY c.rule_rank, c.key_rank
        ) AS n
    FROM candidates c
    JOIN int_visitors v ON v.visitor_id = c.candidate
),
emails AS (
    SELECT
        account,
        charge_id,
        created,
        lower(COALESCE(
            NULLIF(trim(billing_email), ''),
            NULLIF(trim(customer_email), ''),
            NULLIF(trim(checkout_email), '')
        )) AS email
    FROM int_charge_links
),
by_email AS (
    SELECT e.account, e.charge_id, ve.visitor_id, max(s.started_at) AS latest_session
    FROM emails e
    JOIN int_visitor_emails ve ON ve.email = e.email
    JOIN int_visitor_sessions s ON s.visitor_id = ve.visitor_id AND s.started_at <= e.created
    GROUP BY e.account, e.charge_id, ve.visitor_id
),
email_choice AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY account, charge_id ORDER BY latest_session DESC, visitor_id
        ) AS n
    FROM by_email
)
SELECT
    l.account,
    l.charge_id,
    COALESCE(i.visitor_id, e.visitor_id) AS visitor_id,
    CASE
        WHEN i.visitor_id IS NOT NULL THEN i.match_method
        WHEN e.visitor_id IS NOT NULL THEN 'email'
        ELSE 'none'
    END AS match_method,
    i.match_key
FROM int_charge_links l
LEFT JOIN by_id i ON i.account = l.account AND i.charge_id = l.charge_id AND i.n = 1
LEFT JOIN email_choice e ON e.account = l.account AND e.charge_id = l.charge_id AND e.n = 1
