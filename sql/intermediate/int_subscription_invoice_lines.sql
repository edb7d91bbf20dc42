-- unique: account, subscription_id
-- Every invoice line of each subscription: what the reconstruction reads the billed items from
-- (`sl_reconstruct`), and only that — the period start, the price id, the invoice, the quantity,
-- whether it is a proration and its amount — not the line's whole JSON (about a tenth of it),
-- which every reconstructed moment of the subscription would otherwise carry. Its own model for
-- the same reason as int_subscription_item_lists.
SELECT
    account,
    subscription AS subscription_id,
    array_agg(
        sl_json_pick(
            raw,
            'period.start,pricing.price_details.price,invoice,quantity,'
            || 'parent.subscription_item_details.proration,amount'
        )
    ) AS lines
FROM stg_invoice_line_items
WHERE subscription IS NOT NULL
GROUP BY account, subscription
