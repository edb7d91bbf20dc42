-- Payouts (excluded from revenue_daily; kept for reconciliation).
-- unique: account, id
-- From latest.payouts: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.amount,
    v.currency,
    v.status,
    v.type,
    v.method,
    v.automatic,
    v.arrival_date,
    v.balance_transaction,
    v.description,
    v.metadata,
    v._extracted_at AS extracted_at
FROM latest.payouts v
