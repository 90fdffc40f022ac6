-- +goose Up
-- Revoking a signing key revokes the live sessions whose current refresh
-- token it signed: find them without a scan.
CREATE INDEX refresh_families_kid_idx ON refresh_families (current_kid) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX refresh_families_kid_idx;
