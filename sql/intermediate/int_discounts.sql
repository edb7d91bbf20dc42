-- unique: account, discount_id
-- Discount objects by id. Event payloads name a subscription's discounts by id only, so the
-- objects come from wherever they appear whole: every stored subscription version (listed with
-- expand[]=discounts), customers' discounts, and customer.discount.* events.
WITH found AS (
    SELECT v._account AS account, unnest(sl_json_elements(v._raw, 'discounts')) AS discount
    FROM raw.subscriptions v
    UNION ALL
    SELECT c._account, sl_json(c._raw, 'discount')
    FROM raw.customers c
    UNION ALL
    SELECT e.account, sl_json(e.raw, 'data.object')
    FROM stg_events e
    WHERE e.object_type = 'discount'
)
SELECT account, sl_json(discount, 'id') AS discount_id, max(discount) AS discount
FROM found
WHERE sl_json(discount, 'object') = 'discount'
GROUP BY account, sl_json(discount, 'id')
