-- Customers: email and the customer-level discount that applies when a subscription has none (METRICS.md §3.5).
-- unique: account, id
-- From latest.customers: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.email,
    v.name,
    v.currency,
    v.balance,
    v.delinquent,
    v.description,
    v.metadata,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM latest.customers v
