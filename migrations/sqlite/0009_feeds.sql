-- Kalends schema v9, SQLite flavour (keep in step with migrations/postgres/0009_feeds.sql).
-- (0008 is another change's number.)
-- Feed links (issue 18, decision 0022): secret URLs that show one calendar to anyone holding
-- them. Only the SHA-256 of a token is stored. A rotated link answers to its new token and, until
-- previous_until, to the one it replaced. Links go with their calendar (and so with its owner).
CREATE TABLE feed_links (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id   INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    token_hash      BLOB    NOT NULL UNIQUE,
    previous_hash   BLOB    UNIQUE,
    previous_until  INTEGER,
    label           TEXT    NOT NULL DEFAULT '',
    mode            TEXT    NOT NULL,
    alarms          INTEGER NOT NULL DEFAULT 0,
    attendees       INTEGER NOT NULL DEFAULT 0,
    expires_at      INTEGER,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX feed_links_collection ON feed_links (collection_id);
