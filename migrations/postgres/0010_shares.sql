-- Kalends schema v10, PostgreSQL flavour (keep in step with migrations/sqlite/0010_shares.sql).
-- Calendars shared between users (issue 18, decision 0023). A share binds one collection of its
-- owner into the sharee's home under `segment`, a generated name that does not depend on the
-- owner's name or the collection's path, so it stays put when either changes. The per-user
-- properties (caldav-sharing §5.5.3) live on the share row: the sharee's PROPPATCH of
-- displayname, colour, order or transparency changes them, never the owner's collection; NULL
-- means "as the owner has it". Deleting the collection, its owner or the sharee deletes the
-- share (ON DELETE CASCADE both ways; the two UNIQUE keys are the indexes those cascades use).
CREATE TABLE shares (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id  BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    sharee_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    segment        TEXT   COLLATE "C" NOT NULL,
    access         TEXT   NOT NULL CHECK (access IN ('read', 'read-write', 'free-busy')),
    displayname    TEXT,
    color          TEXT,
    calendar_order TEXT,
    transparent    BIGINT,
    created_at     BIGINT NOT NULL,
    UNIQUE (collection_id, sharee_id),
    UNIQUE (sharee_id, segment)
);
