-- +goose Up
-- Access tokens revoked before they expire (RFC 7009), by jti.
CREATE TABLE revoked_tokens (
    jti        TEXT    PRIMARY KEY,
    client_id  TEXT    NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

-- +goose Down
DROP TABLE revoked_tokens;
