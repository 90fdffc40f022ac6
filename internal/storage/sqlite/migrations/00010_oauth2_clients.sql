-- +goose Up
-- The OAuth 2.0 client registry. Its statements are shared with Postgres
-- (internal/storage/sqlstore); lists are JSON arrays in TEXT, times INTEGER
-- unix microseconds (NULL: not set).
CREATE TABLE oauth2_clients (
    id                         TEXT    PRIMARY KEY,
    name                       TEXT    NOT NULL,
    type                       TEXT    NOT NULL CHECK (type IN ('confidential', 'public')),
    grant_types                TEXT    NOT NULL,
    redirect_uris              TEXT    NOT NULL,
    post_logout_redirect_uris  TEXT    NOT NULL,
    scopes                     TEXT    NOT NULL,
    audiences                  TEXT    NOT NULL,
    access_ttl_ms              INTEGER NOT NULL DEFAULT 0,
    refresh_ttl_ms             INTEGER NOT NULL DEFAULT 0,
    first_party                INTEGER NOT NULL CHECK (first_party IN (0, 1)),
    enabled                    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    secret_hash                TEXT    NOT NULL DEFAULT '',
    previous_secret_hash       TEXT    NOT NULL DEFAULT '',
    previous_secret_expires_at INTEGER NULL,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);

-- +goose Down
DROP TABLE oauth2_clients;
