-- Customers: email and the customer-level discount that applies when a subscription has none (METRICS.md §3.5).
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
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
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.customers
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
