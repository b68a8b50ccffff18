-- Kalends schema v7, PostgreSQL flavour (keep in step with migrations/sqlite/0007_rsvp_keys.sql).
-- RSVP links (issue 16): the HMAC-SHA256 keys that sign them, shared by every node through the
-- database. The newest key signs; a key replaced by a newer one (retired_at set) still verifies
-- links already mailed until it is deleted after a grace period.
CREATE TABLE rsvp_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    retired_at  BIGINT
);

-- An email reply (or RSVP answer) is routed to the organizer whose calendar holds its UID:
-- `owners_of_uid` looks UIDs up across all users, which the (collection_id, uid) key cannot do.
CREATE INDEX objects_uid ON objects (uid) WHERE uid IS NOT NULL;
