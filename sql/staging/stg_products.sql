-- Products.
-- unique: account, id
-- From latest.products: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.name,
    v.active,
    v.type,
    v.default_price,
    v.description,
    v.updated,
    v.metadata,
    v._extracted_at AS extracted_at
FROM latest.products v
