-- Kalends schema v3, SQLite flavour (keep in step with migrations/postgres/0003_objects_listing.sql).
-- A covering index for listing a collection's members without their data (PROPFIND Depth 1,
-- the first half of a client's first sync): rows keep the client's bytes inline, one or two
-- objects to a page, so walking the table for the metadata read every page of the calendar.
-- This index holds exactly the columns of shared.rs's object_meta_cols!, in name order, so
-- LIST_OBJECTS reads it alone (src/store/sqlite.rs checks the plan).

CREATE INDEX objects_listing ON objects (
    collection_id, name, id, etag, content_type, size, uid, component, first_start, last_end,
    created_at, modified_at, sync_seq
);
