-- Kalends schema v3, PostgreSQL flavour (keep in step with migrations/sqlite/0003_objects_listing.sql).
-- A covering index for listing a collection's members without their data (PROPFIND Depth 1,
-- the first half of a client's first sync): the metadata columns of shared.rs's
-- object_meta_cols! ride along (INCLUDE), so LIST_OBJECTS can be an index-only scan instead of
-- a walk over rows that keep the client's bytes.

CREATE INDEX objects_listing ON objects (collection_id, name)
    INCLUDE (id, etag, content_type, size, uid, component, first_start, last_end, created_at,
             modified_at, sync_seq);
