package sqlstore

import (
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the backends for the shared tables.
type Dialect struct {
	// Numbered placeholders: $1, $2, … (PostgreSQL); otherwise ?.
	Numbered bool
	// Time encodes a time argument; the zero time must become NULL.
	Time func(time.Time) any
	// ScanTime scans a time column into *t (NULL: the zero time), in UTC.
	ScanTime func(t *time.Time) sql.Scanner
	// Bytewise makes a text comparison compare bytes (so an index serves a
	// prefix range): ` COLLATE "C"` on PostgreSQL, "" on SQLite (BINARY).
	Bytewise string
	// NameContains is a condition, with one placeholder for NameArg(q),
	// that an index serves and that every user whose name contains q (of
	// three characters or more; NameLike) meets: an FTS5 trigram phrase on
	// SQLite. It narrows; NameLike decides. Empty: an index serves NameLike
	// itself (PostgreSQL's trigram GIN index of lower(name)).
	NameContains string
	NameArg      func(q string) string
	// LockRows ends a SELECT that locks the rows it reads until the end of
	// the transaction: " FOR UPDATE" (PostgreSQL); "" on SQLite, whose one
	// writer holds the write lock from BEGIN IMMEDIATE.
	LockRows string
	// Translate maps driver errors to storage.ErrConflict / ErrNotFound.
	Translate func(error) error
}

// rebind rewrites the ? placeholders of q for the dialect. The shared
// statements contain no ? inside literals.
func (d Dialect) rebind(q string) string {
	if !d.Numbered {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
