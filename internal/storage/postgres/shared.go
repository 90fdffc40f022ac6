package postgres

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage/sqlstore"
)

// dialect is PostgreSQL's side of the tables written once in sqlstore: $n
// placeholders, timestamptz columns; they run on database/sql over the
// same pgx pool (stdlib.OpenDBFromPool).
var dialect = sqlstore.Dialect{
	Numbered: true,
	Time:     ts,
	ScanTime: func(t *time.Time) sql.Scanner { return sqlTime{t} },
	Bytewise: ` COLLATE "C"`,
	// NameContains empty: the trigram index of lower(name) (migration
	// 00031) serves sqlstore.NameLike
	LockRows:  " FOR UPDATE",
	Translate: translate,
}

// sqlTime scans a timestamptz column read through database/sql.
type sqlTime struct{ t *time.Time }

func (s sqlTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("timestamptz column: unexpected %T", src)
	}
	return nil
}
