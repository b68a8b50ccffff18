-- Kalends schema v5, SQLite flavour (keep in step with migrations/postgres/0005_scheduling.sql).
-- RFC 6638 scheduling: each user's scheduling inbox and outbox, per-calendar transparency for
-- free/busy, the inbox's default calendar, each scheduling object's Schedule-Tag, and the
-- durable queue of iTIP messages for recipients who are not users of this server.

-- role: NULL for an ordinary collection; 'inbox' / 'outbox' for the RFC 6638 §2.2/§2.1
-- collections. Their rows have kind 'plain': inbox items are iTIP messages (several may share a
-- UID), stored without calendar index columns.
ALTER TABLE collections ADD COLUMN role TEXT CHECK (role IN ('inbox', 'outbox'));
-- RFC 6638 §9.1 schedule-calendar-transp: 1 when the calendar does not count for free/busy.
ALTER TABLE collections ADD COLUMN transparent INTEGER NOT NULL DEFAULT 0;
-- On the inbox row: RFC 6638 §9.2 schedule-default-calendar-URL.
ALTER TABLE collections ADD COLUMN default_calendar_id INTEGER REFERENCES collections (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX collections_role ON collections (owner_id, role) WHERE role IS NOT NULL;

-- RFC 6638 §3.2.10: changes with every client write and with organizer updates applied to an
-- attendee's copy, not when a REPLY updates the organizer's copy. NULL for objects that are not
-- scheduling objects.
ALTER TABLE objects ADD COLUMN schedule_tag TEXT;

-- Existing users get their boxes; a user who already has a collection of that name gets
-- 'schedule-inbox-<id>' (the principal names the box by its URL, so any path works).
INSERT INTO collections (owner_id, parent_id, path, kind, components, created_at, modified_at, role)
SELECT u.id, NULL,
       CASE WHEN EXISTS (SELECT 1 FROM collections c WHERE c.owner_id = u.id AND c.path = 'inbox')
            THEN 'schedule-inbox-' || u.id ELSE 'inbox' END,
       'plain', 15, u.created_at, u.created_at, 'inbox'
FROM users u;
INSERT INTO collections (owner_id, parent_id, path, kind, components, created_at, modified_at, role)
SELECT u.id, NULL,
       CASE WHEN EXISTS (SELECT 1 FROM collections c WHERE c.owner_id = u.id AND c.path = 'outbox')
            THEN 'schedule-outbox-' || u.id ELSE 'outbox' END,
       'plain', 15, u.created_at, u.created_at, 'outbox'
FROM users u;

-- iTIP messages for calendar users outside this server, written in the transaction of the
-- change that caused them; a worker delivers them by email (iMIP, RFC 6047).
CREATE TABLE itip_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The user whose change caused the message.
    owner_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The recipient's calendar user address (a mailto: URI).
    recipient       TEXT    NOT NULL,
    -- REQUEST, CANCEL, REPLY, … (RFC 5546 §1.4)
    method          TEXT    NOT NULL,
    uid             TEXT    NOT NULL,
    -- The iTIP message, a VCALENDAR with METHOD.
    data            BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
) STRICT;
CREATE INDEX itip_outbox_due ON itip_outbox (next_attempt_at) WHERE state = 'pending';
-- Foreign keys are indexed so that deleting a user or a calendar never scans these tables.
CREATE INDEX itip_outbox_owner ON itip_outbox (owner_id);
CREATE INDEX collections_default_calendar ON collections (default_calendar_id) WHERE default_calendar_id IS NOT NULL;
-- Recipients are found by address (mailto:), compared without case.
CREATE INDEX users_email ON users (lower(email));
-- The listing's covering index (0003) carries the Schedule-Tag too, so listings still read the
-- index alone (src/store/sqlite.rs checks the plan).
DROP INDEX objects_listing;
CREATE INDEX objects_listing ON objects (
    collection_id, name, id, etag, content_type, size, uid, component, first_start, last_end,
    created_at, modified_at, sync_seq, schedule_tag
);
