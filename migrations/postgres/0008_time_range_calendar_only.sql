-- Kalends schema v8, PostgreSQL flavour (keep in step with migrations/sqlite/0008_time_range_calendar_only.sql).
-- The time-range index holds calendar objects only. OBJECTS_IN_RANGE (src/store/shared/listing.rs)
-- asks for `component IS NOT NULL`, so an object without a component (an inbox message, a
-- non-calendar resource) was never a candidate, yet every one of them had an entry: an
-- invitation to ten users wrote ten such entries, each on a leaf page of its own inbox
-- (docs/decisions/0020-scheduling-writes.md). The query's `component IS NOT NULL` is the
-- partial index's condition, so both planners still use it (src/store/sqlite.rs checks the plan).
DROP INDEX objects_time_range;
CREATE INDEX objects_time_range ON objects (
    collection_id,
    (COALESCE(last_end, 9223372036854775807)),
    (COALESCE(first_start, -9223372036854775807))
) WHERE component IS NOT NULL;
