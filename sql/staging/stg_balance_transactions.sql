-- Balance transactions: Stripe's ledger and the source of truth for revenue (METRICS.md §2.1).
-- unique: account, id
-- From latest.balance_transactions: the newest stored version of each object, deleted ones dropped, one mode.
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
FROM latest.balance_transactions v
