-- Kalends schema v13, PostgreSQL flavour (keep in step with migrations/sqlite/0013_locks.sql).
-- WebDAV write locks (RFC 4918 §6, §7; issue 23; docs/decisions/0030-locks.md).
--
-- A lock is held on a URL of one user's space: `home_id` is the user whose home it lies in
-- (the owner of a shared calendar, not the sharee), `path` the segments below the home joined
-- by '/' (as collections.path, decoded, no slashes at either end). Its holder is `principal_id`:
-- only they may use the token. `token` is the urn:uuid: lock token; lock tokens are not
-- credentials (RFC 4918 §6.5, lockdiscovery shows them to the holder), a token works only
-- for its holder. `infinite`: 1 = Depth infinity, 0 = Depth 0. `owner_xml`: the client's
-- DAV:owner element as sent, returned in lockdiscovery. A lock whose `expires_at` has passed
-- is no lock; expired rows are deleted by the next lock write in the same home.
CREATE TABLE locks (
    token        TEXT    PRIMARY KEY,
    home_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    path         TEXT    NOT NULL,
    principal_id BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shared       BIGINT  NOT NULL,
    infinite     BIGINT  NOT NULL,
    owner_xml    TEXT,
    timeout_secs BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX locks_home ON locks (home_id, path);
CREATE INDEX locks_principal ON locks (principal_id);
