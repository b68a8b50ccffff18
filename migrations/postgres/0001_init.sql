-- Kalends schema v1, PostgreSQL flavour.
-- Keep in step with migrations/sqlite/0001_init.sql: same tables, columns, constraints and
-- indexes. Only type spellings differ (BIGINT/BYTEA here, INTEGER/BLOB there), plus the
-- byte-order collation below. Timestamps are unix seconds in plain BIGINTs on both engines, so
-- no engine-specific time type leaks into the shared SQL. Every row is owned by a user directly
-- (users, collections.owner_id) or through its collection, and ON DELETE CASCADE removes
-- everything below a deleted user or collection. Every foreign key's referencing columns lead
-- some index, so cascades never scan a table. Names and paths use COLLATE "C": listings then
-- sort by bytes exactly as SQLite's BINARY does, whatever locale the database was created with.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   COLLATE "C" NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE collections (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL for a collection directly in the owner's home.
    parent_id      BIGINT REFERENCES collections (id) ON DELETE CASCADE,
    -- Below the owner's home, segments joined by '/', e.g. 'default' or 'litmus/sub'.
    path           TEXT   COLLATE "C" NOT NULL,
    kind           TEXT   NOT NULL CHECK (kind IN ('calendar', 'plain')),
    displayname    TEXT,
    description    TEXT,
    timezone       TEXT,
    color          TEXT,
    calendar_order TEXT,
    -- Bit set of accepted component kinds (VEVENT=1, VTODO=2, VJOURNAL=4, VFREEBUSY=8).
    components     BIGINT NOT NULL,
    -- Bumped by every transaction that changes a member: the base of getctag and sync tokens.
    -- Writers take this row's lock first, which serialises them per collection across nodes.
    sync_seq       BIGINT NOT NULL DEFAULT 0,
    -- Highest sync_seq whose tombstone was pruned: older tokens can no longer be answered.
    token_floor    BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    modified_at    BIGINT NOT NULL,
    UNIQUE (owner_id, path)
);

-- Child listing and the parent_id cascade.
CREATE INDEX collections_parent ON collections (parent_id);

CREATE TABLE collection_props (
    collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    namespace     TEXT   COLLATE "C" NOT NULL,
    name          TEXT   COLLATE "C" NOT NULL,
    -- The whole property element as self-contained XML.
    xml           TEXT   NOT NULL,
    PRIMARY KEY (collection_id, namespace, name)
);

CREATE TABLE objects (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name          TEXT   COLLATE "C" NOT NULL,
    -- Exactly the bytes the client sent.
    data          BYTEA  NOT NULL,
    etag          TEXT   NOT NULL,
    content_type  TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    -- Index facts of calendar object resources; all NULL for other resources.
    uid           TEXT,
    component     TEXT CHECK (component IN ('VEVENT', 'VTODO', 'VJOURNAL', 'VFREEBUSY')),
    -- Earliest / latest instant any instance covers; NULL = unbounded on that side.
    first_start   BIGINT,
    last_end      BIGINT,
    created_at    BIGINT NOT NULL,
    modified_at   BIGINT NOT NULL,
    -- The collection sync_seq of this object's last change.
    sync_seq      BIGINT NOT NULL,
    UNIQUE (collection_id, name),
    -- RFC 4791 §5.3.2 no-uid-conflict; NULLs are distinct, so non-calendar resources never clash.
    UNIQUE (collection_id, uid),
    CHECK ((uid IS NULL) = (component IS NULL))
);

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
    object_id BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    namespace TEXT   COLLATE "C" NOT NULL,
    name      TEXT   COLLATE "C" NOT NULL,
    xml       TEXT   NOT NULL,
    PRIMARY KEY (object_id, namespace, name)
);

-- One row per deleted member name (the latest deletion), so sync-collection can report removals.
CREATE TABLE tombstones (
    collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name          TEXT   COLLATE "C" NOT NULL,
    sync_seq      BIGINT NOT NULL,
    deleted_at    BIGINT NOT NULL,
    PRIMARY KEY (collection_id, name)
);

CREATE INDEX tombstones_sync ON tombstones (collection_id, sync_seq);
-- Pruning by age.
CREATE INDEX tombstones_deleted_at ON tombstones (deleted_at);
