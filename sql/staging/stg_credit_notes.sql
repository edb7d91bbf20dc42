-- Credit notes.
-- unique: account, id
-- From latest.credit_notes: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.customer,
    v.invoice,
    v.type,
    v.status,
    v.reason,
    v.currency,
    v.amount,
    v.subtotal,
    v.total,
    v.effective_at,
    v.refunds,
    v.metadata,
    v._extracted_at AS extracted_at
FROM latest.credit_notes v
