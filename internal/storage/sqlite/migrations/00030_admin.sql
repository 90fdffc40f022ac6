-- +goose Up
-- The admin surfaces: who made a change and to what, audit filters by
-- user or actor (newest first; a type filter walks the primary key: every
-- index here costs each audit write, and audit writes are on the login
-- path), and the users list's email-prefix search
-- as a byte-wise range on email_key (its UNIQUE index, BINARY, serves it).
ALTER TABLE audit_events ADD COLUMN actor_id BIGINT NULL;
ALTER TABLE audit_events ADD COLUMN target_type TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN target_id TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, id);
CREATE INDEX audit_events_actor_id_idx ON audit_events (actor_id, id);

-- +goose Down
DROP INDEX audit_events_actor_id_idx;
DROP INDEX audit_events_user_id_idx;
ALTER TABLE audit_events DROP COLUMN target_id;
ALTER TABLE audit_events DROP COLUMN target_type;
ALTER TABLE audit_events DROP COLUMN actor_id;
