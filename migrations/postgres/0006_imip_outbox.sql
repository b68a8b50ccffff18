-- Kalends schema v6, PostgreSQL flavour (keep in step with migrations/sqlite/0006_imip_outbox.sql).
-- The external queue (0005's itip_outbox) becomes an outbox that workers drain by email
-- (iMIP, RFC 6047; docs/decisions/0017-imip-sending.md):
--   claim       the token of the worker that holds the row; while it holds it, next_attempt_at
--               is the end of its lease, so a row whose worker died is due again when the lease
--               ends. Completions are guarded by the token: a worker whose lease ran out and
--               whose row was claimed again changes nothing.
--   sent_at     when the SMTP server took it (per-organizer send limits count these).
--   'superseded' a pending REQUEST replaced by a newer REQUEST for the same (owner, UID,
--               recipient) before it was sent: never sent.
ALTER TABLE itip_outbox DROP CONSTRAINT itip_outbox_state_check;
ALTER TABLE itip_outbox ADD CONSTRAINT itip_outbox_state_check
    CHECK (state IN ('pending', 'sent', 'failed', 'superseded'));
ALTER TABLE itip_outbox ADD COLUMN claim TEXT;
ALTER TABLE itip_outbox ADD COLUMN sent_at BIGINT;
-- Coalescing finds the pending rows of one (owner, UID).
CREATE INDEX itip_outbox_pending_uid ON itip_outbox (owner_id, uid) WHERE state = 'pending';
-- The send limits count an owner's recent sends; leading owner_id, it also serves the foreign key.
DROP INDEX itip_outbox_owner;
CREATE INDEX itip_outbox_owner ON itip_outbox (owner_id, sent_at);
