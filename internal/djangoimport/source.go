package djangoimport

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Row is one Django user as the table stores it.
type Row struct {
	ID                                      int64
	Password                                string
	LastLogin                               time.Time // zero if NULL
	DateJoined                              time.Time
	Email, Name, FirstName, LastName        string
	IsSuperuser, IsStaff, IsActive, IsAdmin bool
}

// Source streams Django users.
type Source interface {
	// Describe names the source for reports (no password in it).
	Describe() string
	// Count returns how many rows Rows will yield (for progress), or -1.
	Count(ctx context.Context) (int64, error)
	// Rows calls fn for every user, by id, reading as it goes; an error from
	// fn stops it and is returned.
	Rows(ctx context.Context, fn func(Row) error) error
	Close() error
}

// DefaultTable is the tutorial app's user table.
const DefaultTable = "djangojwtapp_user"

// ErrNotDjango: the database or file is not a Django app's (no such table,
// or columns missing). Its message says what is missing.
var ErrNotDjango = errors.New("not a Django user table")

// requiredColumns are read from every table; the others default when
// missing: name (then first_name + last_name), is_admin (false).
var (
	requiredColumns = []string{"id", "password", "last_login", "is_superuser", "email", "date_joined", "is_active", "is_staff"}
	optionalColumns = []string{"name", "is_admin", "first_name", "last_name"}
)

// tableName accepts a plain or schema-qualified SQL identifier.
var tableName = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$`)

// Open opens dsn: a postgres:// or postgresql:// URL, or else the path of
// a SQLite file. table is the user table ("" = DefaultTable).
func Open(ctx context.Context, dsn, table string) (Source, error) {
	if table == "" {
		table = DefaultTable
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("--table %q: not an SQL table name ([schema.]name of letters, digits, _)", table)
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn, table)
	}
	if strings.Contains(dsn, "://") {
		return nil, fmt.Errorf("--from-django %q: want a postgres:// URL or the path of a SQLite file (Django's db.sqlite3)", redact(dsn))
	}
	return openSQLite(ctx, dsn, table)
}

// selectList builds the SELECT list for the columns present, in Row's
// scan order, and reports the required ones missing.
func selectList(present []string, quote func(string) string) (string, error) {
	var missing []string
	for _, c := range requiredColumns {
		if !slices.Contains(present, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: missing columns %s (it has %s)", ErrNotDjango, strings.Join(missing, ", "), strings.Join(present, ", "))
	}
	cols := make([]string, 0, 12)
	for _, c := range requiredColumns {
		cols = append(cols, quote(c))
	}
	for _, c := range optionalColumns {
		switch {
		case slices.Contains(present, c):
			cols = append(cols, quote(c))
		case c == "is_admin":
			cols = append(cols, "false")
		default:
			cols = append(cols, "''")
		}
	}
	return strings.Join(cols, ", "), nil
}

// redact hides a URL's password.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return dsn[:i+3] + rest[:colon] + ":xxxxx" + rest[at:]
			}
		}
	}
	return dsn
}
