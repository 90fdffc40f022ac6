-- +goose Up
-- Failed-login counts shared by every instance (storage.Throttles). The key
-- is an opaque name chosen by internal/throttle (hashed account, client
-- network, or both).
CREATE TABLE login_throttles (
    key           TEXT        PRIMARY KEY,
    window_start  TIMESTAMPTZ NOT NULL,
    failures      BIGINT      NOT NULL,
    blocked_until TIMESTAMPTZ NULL
);
-- DeleteStaleThrottles finds the keys whose window is over. AddFailure
-- changes window_start only when a window restarts, so the other failures
-- remain HOT updates.
CREATE INDEX login_throttles_window_idx ON login_throttles (window_start);

-- +goose Down
DROP TABLE login_throttles;
