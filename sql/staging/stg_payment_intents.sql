-- Payment intents.
-- unique: account, id
-- From latest.payment_intents: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.amount,
    v.amount_received,
    v.currency,
    v.status,
    v.customer,
    v.latest_charge,
    v.description,
    v.canceled_at,
    v.cancellation_reason,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM latest.payment_intents v
