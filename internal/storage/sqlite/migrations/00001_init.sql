-- +goose Up
-- Times are INTEGER unix microseconds (UTC), NULL for "not set", so that
-- comparisons such as expires_at > ? are numeric and exact.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL UNIQUE,
    name                TEXT    NOT NULL,
    password_hash       TEXT    NOT NULL,
    is_active           INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    is_staff            INTEGER NOT NULL CHECK (is_staff IN (0, 1)),
    is_superuser        INTEGER NOT NULL CHECK (is_superuser IN (0, 1)),
    is_admin            INTEGER NOT NULL CHECK (is_admin IN (0, 1)),
    date_joined         INTEGER NOT NULL,
    last_login          INTEGER NULL,
    password_changed_at INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid           TEXT    PRIMARY KEY,
    alg           TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('next', 'active', 'retired', 'revoked')),
    private_key   BLOB    NOT NULL,
    public_jwk    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    activates_at  INTEGER NOT NULL,
    retired_at    INTEGER NULL,
    expires_at    INTEGER NULL,
    revoked_at    INTEGER NULL,
    revoke_reason TEXT    NOT NULL DEFAULT ''
);

-- The row Postgres locks in UpdateSigningKeys. SQLite serialises writers with
-- BEGIN IMMEDIATE instead; the table is kept so both schemas match.
CREATE TABLE signing_key_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO signing_key_lock (id) VALUES (1);

CREATE TABLE refresh_families (
    id            TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    current_jti   TEXT    NOT NULL,
    current_kid   TEXT    NOT NULL,
    generation    INTEGER NOT NULL,
    previous_jti  TEXT    NOT NULL DEFAULT '',
    rotated_at    INTEGER NOT NULL,
    revoked_at    INTEGER NULL,
    revoke_reason TEXT    NOT NULL DEFAULT '',
    user_agent    TEXT    NOT NULL DEFAULT '',
    ip            TEXT    NOT NULL DEFAULT ''
);
-- Serves RevokeUserFamilies and the ON DELETE CASCADE from users.
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id);
-- For a janitor deleting expired families.
CREATE INDEX refresh_families_expires_idx ON refresh_families (expires_at);

-- No foreign key on user_id: the history outlives the user.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    user_id    INTEGER NULL,
    family_id  TEXT    NOT NULL DEFAULT '',
    kid        TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE refresh_families;
DROP TABLE signing_key_lock;
DROP TABLE signing_keys;
DROP TABLE users;
