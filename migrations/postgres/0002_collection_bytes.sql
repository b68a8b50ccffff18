-- Kalends schema v2, PostgreSQL flavour (keep in step with migrations/sqlite/0002_collection_bytes.sql).
-- Each collection keeps the bytes of its objects, maintained by every write transaction that
-- adds, replaces, removes, copies or moves an object (src/store/shared.rs), under the row lock
-- that transaction already holds. The quota check then adds up a user's few collections
-- instead of every object they own, so a PUT no longer costs more as the calendar grows.
-- A deleted collection takes its count along (ON DELETE CASCADE), so nothing else changes.

ALTER TABLE collections ADD COLUMN used_bytes BIGINT NOT NULL DEFAULT 0;

UPDATE collections
SET used_bytes = (SELECT COALESCE(SUM(o.size), 0) FROM objects o WHERE o.collection_id = collections.id);
