-- +goose Up
-- The OAuth 2.0 client registry. Its statements are shared with SQLite
-- (internal/storage/sqlstore); lists are JSON arrays in TEXT so that both
-- stores read them alike.
CREATE TABLE oauth2_clients (
    id                         TEXT        PRIMARY KEY,
    name                       TEXT        NOT NULL,
    type                       TEXT        NOT NULL CHECK (type IN ('confidential', 'public')),
    grant_types                TEXT        NOT NULL,
    redirect_uris              TEXT        NOT NULL,
    post_logout_redirect_uris  TEXT        NOT NULL,
    scopes                     TEXT        NOT NULL,
    audiences                  TEXT        NOT NULL,
    access_ttl_ms              BIGINT      NOT NULL DEFAULT 0,
    refresh_ttl_ms             BIGINT      NOT NULL DEFAULT 0,
    first_party                BOOLEAN     NOT NULL,
    enabled                    BOOLEAN     NOT NULL,
    -- A hash of the secret (internal/clients); '' for public clients.
    secret_hash                TEXT        NOT NULL DEFAULT '',
    previous_secret_hash       TEXT        NOT NULL DEFAULT '',
    previous_secret_expires_at TIMESTAMPTZ NULL,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE oauth2_clients;
