-- +goose Up
-- Access tokens revoked before they expire (RFC 7009), by jti; an entry
-- can go once the token has expired (revoked_tokens_expires_idx).
CREATE TABLE revoked_tokens (
    jti        TEXT        PRIMARY KEY,
    client_id  TEXT        NOT NULL DEFAULT '',
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

-- +goose Down
DROP TABLE revoked_tokens;
