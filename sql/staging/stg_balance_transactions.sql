-- Balance transactions: Stripe's ledger and the source of truth for revenue (METRICS.md §2.1).
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.type,
    v.reporting_category,
    v.amount,
    v.fee,
    v.net,
    v.currency,
    v.exchange_rate,
    v.source,
    v.status,
    v.available_on,
    v.description,
    v.fee_details,
    v._extracted_at AS extracted_at
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.balance_transactions
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
