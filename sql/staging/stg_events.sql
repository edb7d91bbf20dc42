-- Events: exact change times and the state after each change.
-- unique: account, id
-- From latest.events: the newest stored version of each object, deleted ones dropped, one mode.
SELECT
    v.id,
    v._account AS account,
    v.created,
    v.type,
    v.api_version,
    v.object_id,
    v.object_type,
    v.previous_attributes,
    v.request_id,
    v._raw AS raw,
    v._extracted_at AS extracted_at
FROM latest.events v
