-- +goose Up
-- Authorization codes by SHA-256 of the code; redeemed once (one
-- conditional UPDATE), what the redemption issued recorded for replays.
CREATE TABLE authorization_codes (
    hash              TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL,
    data              BYTEA NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    redeemed_at       TIMESTAMPTZ NULL,
    family_id         TEXT NOT NULL DEFAULT '',
    access_jti        TEXT NOT NULL DEFAULT '',
    access_expires_at TIMESTAMPTZ NULL
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);

-- +goose Down
DROP TABLE authorization_codes;
