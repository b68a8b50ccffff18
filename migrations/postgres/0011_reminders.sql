-- Kalends schema v11, PostgreSQL flavour (keep in step with migrations/sqlite/0011_reminders.sql).
-- Reminders the server emails itself (issue 19; docs/decisions/0024-reminders.md).
--
-- alarm_schedule: one row per calendar object that has (or had) alarms, written in the object's
-- own write transaction. next_due is the earliest time the sender must look at the object again
-- (the next fire, or a re-check on the look-ahead cap); NULL when nothing will fire. fired_through
-- is the watermark: every fire at or before it has been handled, so no write re-fires it and no
-- write moves it back. A row outlives its alarms (NULL next_due) to keep that watermark.
CREATE TABLE alarm_schedule (
    object_id     BIGINT PRIMARY KEY REFERENCES objects (id) ON DELETE CASCADE,
    next_due      BIGINT,
    fired_through BIGINT NOT NULL
);
-- The sender's scan: only due rows, cheapest first; its cost follows the due count.
CREATE INDEX alarm_schedule_due ON alarm_schedule (next_due) WHERE next_due IS NOT NULL;

-- alarm_deliveries: each fire handled, once. The UNIQUE key is what makes a send happen once even
-- if two senders ever looked at the same fire: a mail is queued only for a newly inserted row.
-- instance is the RECURRENCE-ID in UTC seconds, or the smallest integer for a non-recurring one
-- (NULLs would be distinct in the key).
CREATE TABLE alarm_deliveries (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_id  BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    owner_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instance   BIGINT NOT NULL,
    fire_key   TEXT   NOT NULL,
    fire_at    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    outcome    TEXT   NOT NULL CHECK (outcome IN ('queued', 'late', 'capped', 'unaddressed')),
    UNIQUE (object_id, instance, fire_key)
);
-- The per-user hourly cap counts a user's recent deliveries; pruning goes by age.
CREATE INDEX alarm_deliveries_owner ON alarm_deliveries (owner_id, created_at);
CREATE INDEX alarm_deliveries_created ON alarm_deliveries (created_at);

-- Reminder emails go through the iMIP outbox (same SMTP, retries, breaker); kind tells them apart.
ALTER TABLE itip_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'itip' CHECK (kind IN ('itip', 'reminder'));

-- Per user: whether DISPLAY and AUDIO alarms are also emailed (EMAIL alarms always are).
ALTER TABLE users ADD COLUMN reminder_emails BOOLEAN NOT NULL DEFAULT TRUE;

-- Objects stored before this migration get their schedule from a background pass over ids up to
-- the largest one now (later objects are scheduled by their writes); cursor is how far it got.
CREATE TABLE alarm_backfill (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    cursor   BIGINT NOT NULL,
    until_id BIGINT NOT NULL
);
INSERT INTO alarm_backfill (id, cursor, until_id) SELECT 1, 0, COALESCE(MAX(id), 0) FROM objects;
