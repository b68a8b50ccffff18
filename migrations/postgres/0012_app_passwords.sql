-- Kalends schema v12, PostgreSQL flavour (keep in step with migrations/sqlite/0012_app_passwords.sql).
-- Accounts for the JSON API (issue 20; docs/decisions/0025-app-passwords.md).
--
-- is_admin: may create and list users through the API. The bootstrap user `admin` is the first.
ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET is_admin = TRUE WHERE name = 'admin';

-- App passwords: high-entropy secrets a user makes for one client or script, accepted as the
-- Basic password (CalDAV) and as a Bearer token (the API). Only the SHA-256 of the secret is
-- kept (UNIQUE: the lookup key); `hint` is its first characters, for lists.
CREATE TABLE app_passwords (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT   NOT NULL,
    secret_hash  BYTEA  NOT NULL UNIQUE,
    hint         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX app_passwords_user ON app_passwords (user_id);
