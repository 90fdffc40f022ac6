-- +goose Up
-- The admin users search matches a name substring; a trigram index serves
-- lower(name) LIKE '%…%'. pg_trgm is a trusted extension (the database
-- owner may create it). An extension is database-wide: it goes to schema
-- public whatever idp's search_path, the operator class is named there,
-- and it is never dropped here (other schemas may use it).
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE INDEX users_name_trgm_idx ON users USING gin (lower(name) public.gin_trgm_ops);

-- +goose Down
DROP INDEX users_name_trgm_idx;
