-- Kalends schema v14, SQLite flavour (keep in step with migrations/postgres/0014_web.sql).
-- The web page (issue 21; docs/decisions/0028-web-page.md).
--
-- Browser sessions: the cookie's token is 32 random bytes and only its SHA-256 is kept (UNIQUE:
-- the lookup key). A session ends at `expires_at`, or when unused for the idle timeout (from
-- `last_seen_at`, touched at most once a minute). `csrf` is the session's own CSRF secret,
-- which every form carries and every POST must return.
CREATE TABLE web_sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB    NOT NULL UNIQUE,
    csrf         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- An import's progress, in the database so that any node behind a round-robin balancer can
-- answer the page's polls while another runs the import. `job` is the page's random id, unique
-- per user; `report` is the finished import's JSON report; `error` why it failed.
CREATE TABLE import_jobs (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job        TEXT    NOT NULL,
    calendar   TEXT    NOT NULL,
    done       INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    report     TEXT,
    error      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, job)
) STRICT;
CREATE INDEX import_jobs_created ON import_jobs (created_at);
