-- Kalends schema v14, PostgreSQL flavour (keep in step with migrations/sqlite/0014_web.sql).
-- The web page (issue 21; docs/decisions/0028-web-page.md).
--
-- Browser sessions: the cookie's token is 32 random bytes and only its SHA-256 is kept (UNIQUE:
-- the lookup key). A session ends at `expires_at`, or when unused for the idle timeout (from
-- `last_seen_at`, touched at most once a minute). `csrf` is the session's own CSRF secret,
-- which every form carries and every POST must return.
CREATE TABLE web_sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BYTEA   NOT NULL UNIQUE,
    csrf         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- An import's progress, in the database so that any node behind a round-robin balancer can
-- answer the page's polls while another runs the import. `job` is the page's random id, unique
-- per user; `report` is the finished import's JSON report; `error` why it failed.
CREATE TABLE import_jobs (
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job        TEXT    NOT NULL,
    calendar   TEXT    NOT NULL,
    done       BIGINT  NOT NULL,
    total      BIGINT  NOT NULL,
    state      TEXT    NOT NULL,
    report     TEXT,
    error      TEXT,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, job)
);
CREATE INDEX import_jobs_created ON import_jobs (created_at);
