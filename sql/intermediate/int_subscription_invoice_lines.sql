-- unique: account, subscription_id
-- Every invoice line of each subscription, as stored (`raw` of stg_invoice_line_items): what
-- the reconstruction reads the billed items from. Its own model for the same reason as
-- int_subscription_item_lists.
SELECT account, subscription AS subscription_id, array_agg(raw) AS lines
FROM stg_invoice_line_items
WHERE subscription IS NOT NULL
GROUP BY account, subscription
