-- +goose Up
-- Remembered consents, one per (user, client); scopes a JSON array.
CREATE TABLE consents (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- +goose Down
DROP TABLE consents;
