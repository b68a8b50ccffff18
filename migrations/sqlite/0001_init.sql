-- Kalends schema v1, SQLite flavour.
-- Keep in step with migrations/postgres/0001_init.sql: same tables, columns, constraints and
-- indexes. Only type spellings differ (INTEGER/BLOB here, BIGINT/BYTEA there), plus the
-- COLLATE "C" PostgreSQL needs to sort names by bytes as SQLite's default BINARY does.
-- Timestamps are unix seconds in plain integers on both engines, so no engine-specific time
-- type leaks into the shared SQL. Tables are STRICT so a value bound with the wrong type fails
-- loudly, as it would on PostgreSQL. Every row is owned by a user directly (users,
-- collections.owner_id) or through its collection, and ON DELETE CASCADE removes everything
-- below a deleted user or collection.

CREATE TABLE users (
    -- AUTOINCREMENT: ids are never reused, like PostgreSQL identities, so a stale id held by a
    -- cache can never name somebody else.
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE collections (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL for a collection directly in the owner's home.
    parent_id      INTEGER REFERENCES collections (id) ON DELETE CASCADE,
    -- Below the owner's home, segments joined by '/', e.g. 'default' or 'litmus/sub'.
    path           TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('calendar', 'plain')),
    displayname    TEXT,
    description    TEXT,
    timezone       TEXT,
    color          TEXT,
    calendar_order TEXT,
    -- Bit set of accepted component kinds (VEVENT=1, VTODO=2, VJOURNAL=4, VFREEBUSY=8).
    components     INTEGER NOT NULL,
    -- Bumped by every transaction that changes a member: the base of getctag and sync tokens.
    sync_seq       INTEGER NOT NULL DEFAULT 0,
    -- Highest sync_seq whose tombstone was pruned: older tokens can no longer be answered.
    token_floor    INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    modified_at    INTEGER NOT NULL,
    UNIQUE (owner_id, path)
) STRICT;

-- Child listing and the parent_id cascade.
CREATE INDEX collections_parent ON collections (parent_id);

CREATE TABLE collection_props (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    namespace     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    -- The whole property element as self-contained XML.
    xml           TEXT    NOT NULL,
    PRIMARY KEY (collection_id, namespace, name)
) STRICT;

CREATE TABLE objects (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    -- Exactly the bytes the client sent.
    data          BLOB    NOT NULL,
    etag          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    -- Index facts of calendar object resources; all NULL for other resources.
    uid           TEXT,
    component     TEXT CHECK (component IN ('VEVENT', 'VTODO', 'VJOURNAL', 'VFREEBUSY')),
    -- Earliest / latest instant any instance covers; NULL = unbounded on that side.
    first_start   INTEGER,
    last_end      INTEGER,
    created_at    INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL,
    -- The collection sync_seq of this object's last change.
    sync_seq      INTEGER NOT NULL,
    UNIQUE (collection_id, name),
    -- RFC 4791 §5.3.2 no-uid-conflict; NULLs are distinct, so non-calendar resources never clash.
    UNIQUE (collection_id, uid),
    CHECK ((uid IS NULL) = (component IS NULL))
) STRICT;

-- Time-range candidates (objects_in_range). NULL bounds are folded into the extreme BIGINTs so
-- the query is a plain range on the end bound (selective for the usual "from now on" windows)
-- with the start bound checked on the index entry, instead of an `IS NULL OR` that neither
-- planner can turn into a range. The query must spell these two expressions exactly so.
CREATE INDEX objects_time_range ON objects (
    collection_id,
    (COALESCE(last_end, 9223372036854775807)),
    (COALESCE(first_start, -9223372036854775807))
);
-- sync-collection: members changed after a token, in seq order.
CREATE INDEX objects_sync ON objects (collection_id, sync_seq);

CREATE TABLE object_props (
    object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    xml       TEXT    NOT NULL,
    PRIMARY KEY (object_id, namespace, name)
) STRICT;

-- One row per deleted member name (the latest deletion), so sync-collection can report removals.
CREATE TABLE tombstones (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    sync_seq      INTEGER NOT NULL,
    deleted_at    INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name)
) STRICT;

CREATE INDEX tombstones_sync ON tombstones (collection_id, sync_seq);
-- Pruning by age.
CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);
