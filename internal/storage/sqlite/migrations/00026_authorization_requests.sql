-- +goose Up
-- Pending /oauth2/authorize requests waiting for the login or consent
-- page (internal/authorize; statements in internal/storage/sqlstore).
CREATE TABLE authorization_requests (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX authorization_requests_expires_idx ON authorization_requests (expires_at);

-- +goose Down
DROP TABLE authorization_requests;
