package djangoimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// postgresSource reads a Django app's Postgres database, read-only (the
// session is set default_transaction_read_only).
type postgresSource struct {
	conn  *pgx.Conn
	desc  string
	table string
	list  string
}

func openPostgres(ctx context.Context, dsn, table string) (*postgresSource, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("--from-django %s: %w", redact(dsn), err)
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	// Naive timestamps (Django without USE_TZ) are read as UTC.
	cfg.RuntimeParams["timezone"] = "UTC"
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Django database %s: %w", redact(dsn), err)
	}
	s := &postgresSource{conn: conn, desc: fmt.Sprintf("postgres %s:%d/%s table %s", cfg.Host, cfg.Port, cfg.Database, table), table: table}
	schema, name := "", table
	if i := strings.IndexByte(table, '.'); i >= 0 {
		schema, name = table[:i], table[i+1:]
	}
	rows, err := conn.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_name = $1 AND (table_schema = $2 OR ($2 = '' AND table_schema = ANY (current_schemas(false))))
		ORDER BY ordinal_position`, name, schema)
	var present []string
	if err == nil {
		present, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	if len(present) == 0 {
		var isDjango bool
		_ = conn.QueryRow(ctx, `SELECT to_regclass('django_migrations') IS NOT NULL`).Scan(&isDjango)
		conn.Close(ctx)
		if !isDjango {
			return nil, fmt.Errorf("%w: %s has no table %s and no django_migrations: not a Django database", ErrNotDjango, redact(dsn), table)
		}
		return nil, fmt.Errorf("%w: the Django database %s has no table %s (name the user table with --table)", ErrNotDjango, redact(dsn), table)
	}
	ident := func(c string) string {
		if c == "last_login" || c == "date_joined" {
			return pgx.Identifier{c}.Sanitize() + "::timestamptz"
		}
		return pgx.Identifier{c}.Sanitize()
	}
	s.list, err = selectList(present, ident)
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	return s, nil
}

func (s *postgresSource) quotedTable() string {
	return pgx.Identifier(strings.Split(s.table, ".")).Sanitize()
}

func (s *postgresSource) Describe() string { return s.desc }

func (s *postgresSource) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn.QueryRow(ctx, `SELECT count(*) FROM `+s.quotedTable()).Scan(&n)
	return n, err
}

// Rows streams the table by id: pgx reads rows off the wire as they are
// scanned, so memory does not grow with the table.
func (s *postgresSource) Rows(ctx context.Context, fn func(Row) error) error {
	rows, err := s.conn.Query(ctx, `SELECT `+s.list+` FROM `+s.quotedTable()+` ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.table, err)
	}
	defer rows.Close()
	var r Row
	var lastLogin, joined pgtype.Timestamptz
	for rows.Next() {
		if err := rows.Scan(&r.ID, &r.Password, &lastLogin, &r.IsSuperuser, &r.Email, &joined, &r.IsActive, &r.IsStaff,
			&r.Name, &r.IsAdmin, &r.FirstName, &r.LastName); err != nil {
			return fmt.Errorf("read %s: %w", s.table, err)
		}
		r.LastLogin, r.DateJoined = pgTime(lastLogin), pgTime(joined)
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.table, err)
	}
	return nil
}

func pgTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid || t.InfinityModifier != pgtype.Finite {
		return time.Time{}
	}
	return t.Time.UTC()
}

func (s *postgresSource) Close() error { return s.conn.Close(context.Background()) }

// sqliteSource reads a Django db.sqlite3, opened read-only.
type sqliteSource struct {
	db          *sql.DB
	path, table string
	list        string
}

func openSQLite(ctx context.Context, path, table string) (*sqliteSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--from-django %s: %w", path, err)
	}
	head := make([]byte, 16)
	_, err = f.Read(head)
	f.Close()
	if err != nil || string(head) != "SQLite format 3\x00" {
		return nil, fmt.Errorf("%w: %s is neither a postgres:// URL nor a SQLite database file", ErrNotDjango, path)
	}
	if strings.Contains(table, ".") {
		return nil, fmt.Errorf("--table %q: a SQLite table has no schema", table)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &sqliteSource{db: db, path: path, table: table}
	var present []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err == nil {
		for rows.Next() {
			var c string
			if err = rows.Scan(&c); err != nil {
				break
			}
			present = append(present, c)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(present) == 0 {
		var n int
		_ = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'django_migrations'`).Scan(&n)
		db.Close()
		if n == 0 {
			return nil, fmt.Errorf("%w: %s has no table %s and no django_migrations: not a Django database", ErrNotDjango, path, table)
		}
		return nil, fmt.Errorf("%w: the Django database %s has no table %s (name the user table with --table)", ErrNotDjango, path, table)
	}
	s.list, err = selectList(present, sqliteIdent)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	return s, nil
}

func sqliteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (s *sqliteSource) Describe() string { return "sqlite " + s.path + " table " + s.table }

func (s *sqliteSource) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+sqliteIdent(s.table)).Scan(&n)
	return n, err
}

func (s *sqliteSource) Rows(ctx context.Context, fn func(Row) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+s.list+` FROM `+sqliteIdent(s.table)+` ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Row
		var lastLogin, joined any
		if err := rows.Scan(&r.ID, &r.Password, &lastLogin, &r.IsSuperuser, &r.Email, &joined, &r.IsActive, &r.IsStaff,
			&r.Name, &r.IsAdmin, &r.FirstName, &r.LastName); err != nil {
			return fmt.Errorf("read %s: %w", s.table, err)
		}
		if r.LastLogin, err = djangoTime(lastLogin); err != nil {
			return fmt.Errorf("read %s: user %d: last_login: %w", s.table, r.ID, err)
		}
		if r.DateJoined, err = djangoTime(joined); err != nil {
			return fmt.Errorf("read %s: user %d: date_joined: %w", s.table, r.ID, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.table, err)
	}
	return nil
}

func (s *sqliteSource) Close() error { return s.db.Close() }

// djangoTimeLayouts are how Django writes datetimes: SQLite's text columns
// ("2023-05-02 09:30:00[.123456]", with an offset when USE_TZ wrote one)
// and the fixture's ISO 8601 ("2023-05-02T09:30:00[.123]Z", naive without
// USE_TZ). Naive times are taken as UTC, as Django's USE_TZ stores them.
var djangoTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999",
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999",
}

// djangoTime reads a datetime column value (nil → zero).
func djangoTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return t.UTC(), nil
	case []byte:
		return parseDjangoTime(string(t))
	case string:
		return parseDjangoTime(t)
	}
	return time.Time{}, fmt.Errorf("unexpected %T", v)
}

func parseDjangoTime(s string) (time.Time, error) {
	for _, layout := range djangoTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a Django datetime: " + fmt.Sprintf("%.40q", s))
}
