-- Charges: succeeded, failed and refunded payment attempts; failed ones feed failed_payments.
-- unique: account, id
-- From latest.charges: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.amount,
    v.amount_captured,
    v.amount_refunded,
    v.currency,
    v.status,
    v.paid,
    v.captured,
    v.refunded,
    v.disputed,
    v.customer,
    v.payment_intent,
    v.balance_transaction,
    v.billing_email,
    v.failure_code,
    v.failure_message,
    v.outcome_type,
    v.payment_method_type,
    v.card_country,
    v.description,
    v.metadata,
    v._extracted_at AS extracted_at
FROM latest.charges v
