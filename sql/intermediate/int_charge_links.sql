-- unique: account, charge_id
-- Every succeeded charge with the Stripe objects attribution reads (METRICS.md §6.1): its payment
-- intent, the invoice that intent paid (invoice_payments), that invoice's subscription, the
-- customer, and the completed Checkout Session linked by payment intent, else by invoice, else by
-- subscription (so renewals reach the checkout that created the subscription). Stripe does not
-- copy metadata between these objects, so each one's metadata is carried separately.
WITH charges AS (
    -- An authorisation released without capture is `succeeded` too, but nobody paid.
    SELECT * FROM stg_charges WHERE status = 'succeeded' AND COALESCE(captured, true)
),
paid_invoices AS (
    SELECT account, payment_intent, min(invoice) AS invoice
    FROM stg_invoice_payments
    WHERE payment_intent IS NOT NULL
    GROUP BY account, payment_intent
),
completed AS (
    SELECT * FROM stg_checkout_sessions WHERE status = 'complete'
),
by_payment_intent AS (
    SELECT *, row_number() OVER (PARTITION BY account, payment_intent ORDER BY created, id) AS n
    FROM completed
    WHERE payment_intent IS NOT NULL
),
by_invoice AS (
    SELECT *, row_number() OVER (PARTITION BY account, invoice ORDER BY created, id) AS n
    FROM completed
    WHERE invoice IS NOT NULL
),
by_subscription AS (
    SELECT *, row_number() OVER (PARTITION BY account, subscription ORDER BY created, id) AS n
    FROM completed
    WHERE subscription IS NOT NULL
),
linked AS (
    SELECT
        c.account,
        c.id AS charge_id,
        c.created,
        c.currency,
        c.amount,
        COALESCE(c.customer, 'email:' || lower(trim(c.billing_email)), 'charge:' || c.id)
            AS customer_key,
        COALESCE(c.customer, pi.customer) AS customer,
        c.payment_intent,
        ip.invoice,
        inv.subscription,
        CASE
            WHEN cp.id IS NOT NULL THEN 'payment_intent'
            WHEN ci.id IS NOT NULL THEN 'invoice'
            WHEN cs.id IS NOT NULL THEN 'subscription'
        END AS checkout_link,
        COALESCE(cp.id, ci.id, cs.id) AS checkout_session,
        COALESCE(cp.client_reference_id, ci.client_reference_id, cs.client_reference_id)
            AS client_reference_id,
        CASE WHEN cp.id IS NOT NULL THEN cp.metadata WHEN ci.id IS NOT NULL THEN ci.metadata
            ELSE cs.metadata END AS checkout_metadata,
        CASE WHEN cp.id IS NOT NULL THEN cp.customer_email
            WHEN ci.id IS NOT NULL THEN ci.customer_email ELSE cs.customer_email END
            AS checkout_email,
        pi.metadata AS payment_intent_metadata,
        inv.metadata AS invoice_metadata,
        sub.metadata AS subscription_metadata,
        c.billing_email
    FROM charges c
    LEFT JOIN stg_payment_intents pi ON pi.account = c.account AND pi.id = c.payment_intent
    LEFT JOIN paid_invoices ip ON ip.account = c.account AND ip.payment_intent = c.payment_intent
    LEFT JOIN stg_invoices inv ON inv.account = c.account AND inv.id = ip.invoice
    LEFT JOIN stg_subscriptions sub ON sub.account = c.account AND sub.id = inv.subscription
    LEFT JOIN by_payment_intent cp
        ON cp.account = c.account AND cp.payment_intent = c.payment_intent AND cp.n = 1
    LEFT JOIN by_invoice ci ON ci.account = c.account AND ci.invoice = ip.invoice AND ci.n = 1
    LEFT JOIN by_subscription cs
        ON cs.account = c.account AND cs.subscription = inv.subscription AND cs.n = 1
)
SELECT
    l.*,
    cus.metadata AS customer_metadata,
    cus.email AS customer_email
FROM linked l
LEFT JOIN stg_customers cus ON cus.account = l.account AND cus.id = l.customer
