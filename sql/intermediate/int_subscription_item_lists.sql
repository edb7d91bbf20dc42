-- unique: account, subscription
-- Every item of each subscription, as stored (`raw` of stg_subscription_items): the items a
-- state's embedded list (cut off at 10) is completed from. Its own model, not a CTE, so what
-- reads it reads compact Parquet batches rather than slices of one aggregated buffer, which
-- DataFusion's memory accounting counts whole for every slice.
SELECT account, subscription, array_agg(raw) AS items
FROM stg_subscription_items
GROUP BY account, subscription
