package sqlite

import (
	"database/sql"
	"strings"
	"time"

	"github.com/idp/idp/internal/storage/sqlstore"
)

// dialect is SQLite's side of the tables written once in sqlstore: ?
// placeholders, times as INTEGER unix microseconds.
var dialect = sqlstore.Dialect{
	Time:     micros,
	ScanTime: func(t *time.Time) sql.Scanner { return microTime{t} },
	// A phrase of the FTS5 trigram table (migration 00031) holds every
	// name containing q in any case (FTS5 folds case): unlike LIKE on that
	// table it needs no look-up of each candidate's name in users — nine
	// times faster for a common q — and % and _ are literal in it.
	NameContains: `id IN (SELECT rowid FROM users_name_fts WHERE users_name_fts MATCH ?)`,
	NameArg:      ftsPhrase,
	Translate:    translate,
}

// ftsPhrase is an FTS5 string matching q literally.
func ftsPhrase(q string) string { return `"` + strings.ReplaceAll(q, `"`, `""`) + `"` }
