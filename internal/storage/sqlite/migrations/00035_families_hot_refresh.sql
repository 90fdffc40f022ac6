-- +goose Up
-- The janitor finds idle families through created_at, which a refresh never
-- changes, instead of an index on rotated_at, which every refresh had to
-- update (the same as on PostgreSQL, where it makes refreshes HOT updates).
CREATE INDEX refresh_families_live_created_idx ON refresh_families (created_at) WHERE revoked_at IS NULL;
DROP INDEX refresh_families_idle_idx;

-- +goose Down
CREATE INDEX refresh_families_idle_idx ON refresh_families (rotated_at) WHERE revoked_at IS NULL;
DROP INDEX refresh_families_live_created_idx;
