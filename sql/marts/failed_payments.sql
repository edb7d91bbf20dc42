-- unique: account, charge_id
-- One row per failed charge (METRICS.md §2.2: status = 'failed'; each attempt counts, so a
-- PaymentIntent retried twice has two rows). Amounts are presentment minor units.
--
-- Columns:
--   account: Stripe account id
--   date: the day the charge was created (report time zone)
--   charge_id: Stripe charge id
--   created: when the charge was created (UTC)
--   payment_intent: the PaymentIntent the attempt belongs to
--   customer_id: Stripe customer id, when there is one
--   customer_key: as in `customers`
--   currency: presentment currency
--   amount: the attempted amount, presentment minor units
--   failure_code: Stripe's failure code
--   failure_message: Stripe's failure message
--   outcome_type: Stripe's outcome type (issuer_declined, blocked, …)
--   payment_method_type: card, us_bank_account, …
SELECT
    c.account,
    sl_day(c.created, cfg.report_timezone) AS date,
    c.id AS charge_id,
    c.created,
    c.payment_intent,
    c.customer AS customer_id,
    COALESCE(c.customer, 'email:' || lower(trim(c.billing_email)), 'charge:' || c.id) AS customer_key,
    c.currency,
    c.amount,
    c.failure_code,
    c.failure_message,
    c.outcome_type,
    c.payment_method_type
FROM stg_settings cfg
CROSS JOIN stg_charges c
WHERE c.status = 'failed'
