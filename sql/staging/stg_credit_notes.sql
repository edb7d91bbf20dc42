-- Credit notes.
-- Staging: the newest stored version of each object, deleted ones dropped, one mode (live or
-- test; objects without `livemode`, such as balance transactions, belong to the lake's mode).
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
FROM stg_settings s
CROSS JOIN (
    SELECT
        *,
        row_number() OVER (PARTITION BY _account, id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
    FROM raw.credit_notes
) v
WHERE v.version_rank = 1
  AND NOT v._deleted
  AND COALESCE(v.livemode, s.livemode) = s.livemode
