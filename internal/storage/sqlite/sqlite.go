// Package sqlite is idp's embedded store: the storage interfaces on one
// SQLite file (modernc.org/sqlite, pure Go, no cgo), with its schema
// embedded and applied by goose.
//
// It serves ONE idp instance (plus short-lived CLI commands on the same
// file): writes go through a single connection in immediate transactions,
// reads through a small pool of read-only connections, and the file is in
// WAL mode so readers never wait for the writer. Several instances sharing
// a database need the postgres backend.
//
// Times are stored as INTEGER unix microseconds in UTC (NULL for the zero
// time), so comparisons are numeric and exact and a time read back equals
// the one written after .UTC().Truncate(time.Microsecond).
//
// It imports internal/storage and nothing else of idp's.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a statement waits for another process's write
// lock (e.g. an `idp users` command beside a running server) before
// failing. Within one Store writes never contend: they share one connection.
const busyTimeout = 10 * time.Second

// readConns bounds the read pool.
const readConns = 4

// Options configure Open.
type Options struct {
	// Path is the database file; its directory is created (0700) if missing.
	Path string
	// MustExist opens an existing file only: Open creates neither the
	// file nor its directory and fails (wrapping os.ErrNotExist) if the
	// file is missing.
	MustExist bool
	// Logger receives the store's log lines; nil discards them.
	Logger *slog.Logger
	// StrictPermissions refuses a database file (or -wal, -shm) accessible
	// to group or others instead of tightening it to 0600 (production).
	StrictPermissions bool
}

// Store is the SQLite implementation of storage.Store.
type Store struct {
	// w is the single write connection; its transactions BEGIN IMMEDIATE.
	w *sql.DB
	// r is the pool of read-only connections.
	r   *sql.DB
	log *slog.Logger
	// Tables are the tables written once for both stores.
	*sqlstore.Tables
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating if needed) the database at opts.Path. It does not
// migrate: call Migrate.
func Open(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Path == "" {
		return nil, errors.New("open SQLite: empty path")
	}
	if strings.ContainsRune(opts.Path, '?') || strings.HasPrefix(opts.Path, "file:") {
		return nil, fmt.Errorf("open SQLite: path %q: must be a plain file path without '?' or a file: prefix", opts.Path)
	}
	if opts.MustExist {
		f, err := os.OpenFile(opts.Path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("open SQLite: %w", err)
		}
		f.Close()
	} else {
		if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
			return nil, fmt.Errorf("open SQLite: create directory: %w", err)
		}
		// Create the file private (it holds password hashes and sealed
		// keys); SQLite gives its -wal and -shm files the same mode.
		f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open SQLite: %w", err)
		}
		f.Close()
	}
	// Create the file private (it holds password hashes and sealed keys);
	// SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open SQLite: %w", err)
	}
	f.Close()
	if err := checkPermissions(opts.Path, opts.StrictPermissions, log); err != nil {
		return nil, err
	}

	// The write connection opens first: it switches the file to WAL before
	// any reader connects.
	w, err := openPool(ctx, dsn(opts.Path, "journal_mode(WAL)")+"&_txlock=immediate", 1)
	if err != nil {
		return nil, fmt.Errorf("open SQLite at %s: %w", opts.Path, err)
	}
	r, err := openPool(ctx, dsn(opts.Path, "query_only(1)"), readConns)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open SQLite at %s: %w", opts.Path, err)
	}
	log.Debug("opened SQLite store", "path", opts.Path)
	return &Store{w: w, r: r, log: log, Tables: sqlstore.New(r, w, dialect)}, nil
}

// dsn is the modernc.org/sqlite data source for path: every connection
// waits for other processes' locks and enforces foreign keys.
func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return path + "?" + q.Encode()
}

// openPool opens a pool of at most conns long-lived connections and checks
// that one connects.
func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies the embedded migrations that are not applied yet. It is
// idempotent. No cross-process lock is taken: the embedded store serves one
// instance, and SQLite's own write lock serialises the migration
// transactions anyway.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate SQLite: %w", err)
	}
	for _, r := range res {
		s.log.Info("applied migration", "backend", "sqlite", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Version returns the schema version applied (0 before Migrate).
func (s *Store) Version(ctx context.Context) (int64, error) {
	p, err := s.provider()
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read SQLite schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion returns the schema version applied and the latest one
// this binary embeds, reading only: unlike Version it creates no version
// table, so a store never migrated reports 0 and is left as it was.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	for _, src := range p.ListSources() {
		latest = max(latest, src.Version)
	}
	var tables int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`).Scan(&tables); err != nil {
		return 0, latest, fmt.Errorf("read SQLite schema version: %w", err)
	}
	if tables == 0 {
		return 0, latest, nil
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&current); err != nil {
		return 0, latest, fmt.Errorf("read SQLite schema version: %w", err)
	}
	return current, latest, nil
}

func (s *Store) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping SQLite: %w", err)
	}
	return nil
}

// Backend returns "sqlite".
func (s *Store) Backend() string { return "sqlite" }

// Close closes both connection pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// translate maps driver errors to the storage sentinels, keeping the
// driver's message.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", storage.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %v", storage.ErrNotFound, err)
		}
	}
	return err
}

// micros encodes t for a time column: unix microseconds, NULL if zero.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// microTime scans a time column written by micros into *t.
type microTime struct{ t *time.Time }

func (m microTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*m.t = time.Time{}
	case int64:
		*m.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", src)
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// rowsAffected reports ErrNotFound when an update touched nothing.
func rowsAffected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// LatestVersion is the version of the newest embedded migration: what
// Version reports once Migrate has run.
func LatestVersion() int64 {
	entries, _ := fs.ReadDir(migrations, "migrations")
	var latest int64
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.ParseInt(prefix, 10, 64); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}
