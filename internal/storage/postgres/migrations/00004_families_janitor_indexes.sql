-- +goose NO TRANSACTION
-- Indexes for the janitor (DeleteDeadFamilies): each of its three criteria
-- reads only the rows it deletes. They are built CONCURRENTLY so that
-- upgrading a server with a large refresh_families table never blocks
-- refreshes; each is dropped first so that a build interrupted half-way
-- (which leaves an invalid index) is simply redone.
--
-- Cost on the refresh path: RotateFamily changes rotated_at, so with the
-- idle index a refresh is no longer a HOT update (every index of the row
-- gets a new entry). Measured in BenchmarkRotateFamilyIdleIndex.

-- +goose Up
-- Unrevoked families by absolute expiry. Replaces refresh_families_expires_idx:
-- revoked families are found by revoked_at instead, so they no longer fill
-- the range the janitor reads.
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_live_expires_idx;
CREATE INDEX CONCURRENTLY refresh_families_live_expires_idx ON refresh_families (expires_at) WHERE revoked_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_expires_idx;
-- Unrevoked families by last use: the idle ones.
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_idle_idx;
CREATE INDEX CONCURRENTLY refresh_families_idle_idx ON refresh_families (rotated_at) WHERE revoked_at IS NULL;
-- Revoked families by revocation time: the ones past retention.
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_revoked_idx;
CREATE INDEX CONCURRENTLY refresh_families_revoked_idx ON refresh_families (revoked_at) WHERE revoked_at IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_revoked_idx;
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_idle_idx;
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_expires_idx;
CREATE INDEX CONCURRENTLY refresh_families_expires_idx ON refresh_families (expires_at);
DROP INDEX CONCURRENTLY IF EXISTS refresh_families_live_expires_idx;
