-- Kalends schema v9, PostgreSQL flavour (keep in step with migrations/sqlite/0009_feeds.sql).
-- (0008 is another change's number.)
-- Feed links (issue 18, decision 0022): secret URLs that show one calendar to anyone holding
-- them. Only the SHA-256 of a token is stored. A rotated link answers to its new token and, until
-- previous_until, to the one it replaced. Links go with their calendar (and so with its owner).
CREATE TABLE feed_links (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id   BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    token_hash      BYTEA    NOT NULL UNIQUE,
    previous_hash   BYTEA    UNIQUE,
    previous_until  BIGINT,
    label           TEXT    NOT NULL DEFAULT '',
    mode            TEXT    NOT NULL,
    alarms          BIGINT NOT NULL DEFAULT 0,
    attendees       BIGINT NOT NULL DEFAULT 0,
    expires_at      BIGINT,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX feed_links_collection ON feed_links (collection_id);
