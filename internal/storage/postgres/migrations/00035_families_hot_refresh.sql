-- +goose NO TRANSACTION
-- Refreshes as HOT updates (issue 14). RotateFamily changes rotated_at, so
-- while an index covers rotated_at (refresh_families_idle_idx, 00004) no
-- refresh is a HOT update: each writes a new entry into every index of the
-- table. The janitor finds idle families through created_at instead, which
-- a refresh never changes: a family idle since the cutoff was created
-- before it (rotated_at >= created_at), so the scan of families created
-- before the cutoff, oldest first, filtered on rotated_at, finds them all.
-- Its cost moves to the janitor (it also walks sessions older than the
-- refresh lifetime that are still in use), once per tokens.flush_interval.
-- A lower fillfactor leaves room in each page for the new row versions of
-- HOT updates (it applies to pages written from now on).

-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_live_created_idx;
CREATE INDEX CONCURRENTLY refresh_families_live_created_idx ON refresh_families (created_at) WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_idle_idx;
ALTER TABLE refresh_families SET (fillfactor = 85);

-- +goose Down
ALTER TABLE refresh_families RESET (fillfactor);
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_idle_idx;
CREATE INDEX CONCURRENTLY refresh_families_idle_idx ON refresh_families (rotated_at) WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_live_created_idx;
