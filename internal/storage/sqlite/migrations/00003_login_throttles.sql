-- +goose Up
-- Failed-login counts (storage.Throttles). The key is an opaque name chosen
-- by internal/throttle (hashed account, client network, or both). Times are
-- unix microseconds, as everywhere.
CREATE TABLE login_throttles (
    key           TEXT    PRIMARY KEY,
    window_start  INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    blocked_until INTEGER NULL
);
-- DeleteStaleThrottles finds the keys whose window is over.
CREATE INDEX login_throttles_window_idx ON login_throttles (window_start);

-- +goose Down
DROP TABLE login_throttles;
