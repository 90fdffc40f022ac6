-- +goose Up
-- Browser sessions (internal/websession): the SSO session of the hosted
-- login; id is the OIDC sid. Statements shared in internal/storage/sqlstore.
-- Times: unix microseconds.
CREATE TABLE browser_sessions (
    id              TEXT    PRIMARY KEY,
    secret_hash     TEXT    NOT NULL,
    user_id         BIGINT  NOT NULL DEFAULT 0,
    auth_time       INTEGER NULL,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ended_at        INTEGER NULL,
    user_agent      TEXT    NOT NULL DEFAULT '',
    ip              TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX browser_sessions_user_idx ON browser_sessions (user_id);
CREATE INDEX browser_sessions_idle_idx ON browser_sessions (idle_expires_at);

-- +goose Down
DROP TABLE browser_sessions;
