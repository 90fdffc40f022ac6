-- +goose Up
-- The admin users search matches a name substring: an FTS5 trigram index
-- of users.name (external content, kept in step by triggers) serves
-- name LIKE '%…%' for patterns of three characters or more.
CREATE VIRTUAL TABLE users_name_fts USING fts5(name, content='users', content_rowid='id', tokenize='trigram');
-- +goose StatementBegin
CREATE TRIGGER users_name_fts_ai AFTER INSERT ON users BEGIN
    INSERT INTO users_name_fts(rowid, name) VALUES (new.id, new.name);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_name_fts_ad AFTER DELETE ON users BEGIN
    INSERT INTO users_name_fts(users_name_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_name_fts_au AFTER UPDATE OF name ON users BEGIN
    INSERT INTO users_name_fts(users_name_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO users_name_fts(rowid, name) VALUES (new.id, new.name);
END;
-- +goose StatementEnd
INSERT INTO users_name_fts(users_name_fts) VALUES ('rebuild');

-- +goose Down
DROP TRIGGER users_name_fts_au;
DROP TRIGGER users_name_fts_ad;
DROP TRIGGER users_name_fts_ai;
DROP TABLE users_name_fts;
