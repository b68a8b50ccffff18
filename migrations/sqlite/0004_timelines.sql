-- Kalends schema v4, SQLite flavour (keep in step with migrations/postgres/0004_timelines.sql).
-- Each event object's instance timeline (src/calendar/timeline.rs), written with the object, so
-- a calendar-query with a plain VEVENT time-range is decided without parsing the object.
-- instances: the encoded timeline; NULL when the object has none (not an event, a floating
-- DATE-TIME, RANGE=THISANDFUTURE, too many instances), and the query evaluates it exactly.
-- instances_until: when the timeline stops at a horizon, that horizon, so the background worker
-- lays it out further before queries reach it; NULL when there is nothing to renew.

ALTER TABLE objects ADD COLUMN instances BLOB;
ALTER TABLE objects ADD COLUMN instances_until INTEGER;

-- Events stored before v4 have no timeline yet: due at once, so the worker lays them out.
UPDATE objects SET instances_until = -9223372036854775807 WHERE component = 'VEVENT';

-- The worker's "due" scan touches only rows with a horizon.
CREATE INDEX objects_timelines_due ON objects (instances_until) WHERE instances_until IS NOT NULL;
