-- Subscriptions as of the latest extraction; their history is int_subscription_snapshots.
-- unique: account, id
-- From latest.subscriptions: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.customer,
    v.status,
    v.currency,
    v.start_date,
    v.billing_cycle_anchor,
    v.trial_start,
    v.trial_end,
    v.cancel_at,
    v.cancel_at_period_end,
    v.canceled_at,
    v.ended_at,
    v.cancellation_reason,
    v.collection_method,
    v.latest_invoice,
    v.discounts,
    v.pause_collection,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM latest.subscriptions v
