-- +goose Up
-- Indexes for the janitor (DeleteDeadFamilies): each of its three criteria
-- reads only the rows it deletes. The same as on PostgreSQL.

-- Unrevoked families by absolute expiry. Replaces refresh_families_expires_idx:
-- revoked families are found by revoked_at instead.
CREATE INDEX refresh_families_live_expires_idx ON refresh_families (expires_at) WHERE revoked_at IS NULL;
DROP INDEX refresh_families_expires_idx;
-- Unrevoked families by last use: the idle ones.
CREATE INDEX refresh_families_idle_idx ON refresh_families (rotated_at) WHERE revoked_at IS NULL;
-- Revoked families by revocation time: the ones past retention.
CREATE INDEX refresh_families_revoked_idx ON refresh_families (revoked_at) WHERE revoked_at IS NOT NULL;

-- +goose Down
DROP INDEX refresh_families_revoked_idx;
DROP INDEX refresh_families_idle_idx;
CREATE INDEX refresh_families_expires_idx ON refresh_families (expires_at);
DROP INDEX refresh_families_live_expires_idx;
