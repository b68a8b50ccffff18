-- Kalends schema v6, SQLite flavour (keep in step with migrations/postgres/0006_imip_outbox.sql).
-- The external queue (0005's itip_outbox) becomes an outbox that workers drain by email
-- (iMIP, RFC 6047; docs/decisions/0017-imip-sending.md):
--   claim       the token of the worker that holds the row; while it holds it, next_attempt_at
--               is the end of its lease, so a row whose worker died is due again when the lease
--               ends. Completions are guarded by the token: a worker whose lease ran out and
--               whose row was claimed again changes nothing.
--   sent_at     when the SMTP server took it (per-organizer send limits count these).
--   'superseded' a pending REQUEST replaced by a newer REQUEST for the same (owner, UID,
--               recipient) before it was sent: never sent.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (nothing refers
-- to it).
CREATE TABLE itip_outbox_v6 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient       TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    uid             TEXT    NOT NULL,
    data            BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    claim           TEXT,
    sent_at         INTEGER
) STRICT;
INSERT INTO itip_outbox_v6 (id, owner_id, recipient, method, uid, data, created_at, state, attempts,
                            next_attempt_at, last_error)
SELECT id, owner_id, recipient, method, uid, data, created_at, state, attempts, next_attempt_at, last_error
FROM itip_outbox;
DROP TABLE itip_outbox;
ALTER TABLE itip_outbox_v6 RENAME TO itip_outbox;
CREATE INDEX itip_outbox_due ON itip_outbox (next_attempt_at) WHERE state = 'pending';
-- Coalescing finds the pending rows of one (owner, UID).
CREATE INDEX itip_outbox_pending_uid ON itip_outbox (owner_id, uid) WHERE state = 'pending';
-- The send limits count an owner's recent sends; leading owner_id, it also serves the foreign key.
CREATE INDEX itip_outbox_owner ON itip_outbox (owner_id, sent_at);
