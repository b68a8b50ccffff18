-- Kalends schema v12, SQLite flavour (keep in step with migrations/postgres/0012_app_passwords.sql).
-- Accounts for the JSON API (issue 20; docs/decisions/0025-app-passwords.md).
--
-- is_admin: may create and list users through the API. The bootstrap user `admin` is the first.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
UPDATE users SET is_admin = 1 WHERE name = 'admin';

-- App passwords: high-entropy secrets a user makes for one client or script, accepted as the
-- Basic password (CalDAV) and as a Bearer token (the API). Only the SHA-256 of the secret is
-- kept (UNIQUE: the lookup key); `hint` is its first characters, for lists.
CREATE TABLE app_passwords (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;
CREATE INDEX app_passwords_user ON app_passwords (user_id);
