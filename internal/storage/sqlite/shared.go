package sqlite

import (
	"database/sql"
	"time"

	"github.com/idp/idp/internal/storage/sqlstore"
)

// dialect is SQLite's side of the tables written once in sqlstore: ?
// placeholders, times as INTEGER unix microseconds.
var dialect = sqlstore.Dialect{
	Time:         micros,
	ScanTime:     func(t *time.Time) sql.Scanner { return microTime{t} },
	NameContains: `id IN (SELECT rowid FROM users_name_fts WHERE name LIKE ?)`,
	Translate:    translate,
}
