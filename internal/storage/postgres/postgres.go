// Package postgres is idp's shared store: the storage interfaces on
// PostgreSQL through a pgx/v5 pool, with the schema embedded and applied by
// goose.
//
// Several idp instances may share one database. Races are settled by the
// database without SERIALIZABLE transactions on hot paths: RotateFamily is
// one conditional UPDATE … RETURNING, AddFailure one INSERT … ON CONFLICT
// DO UPDATE, the janitor's batched DELETEs re-check their criterion on the
// rows they delete, uniqueness is left to constraints
// (23505 → storage.ErrConflict), and UpdateSigningKeys serialises on a row
// lock (SELECT … FOR UPDATE on signing_key_lock) rather than an advisory
// lock, so Postgres-compatible distributed databases work too. Migrate uses
// goose's table-based lock for the same reason.
//
// Schema isolation (tests, several deployments on one database) comes from
// the URL: pgx passes unknown URL parameters such as search_path=… to the
// server as run-time parameters.
//
// It imports internal/storage and nothing else of idp's.
package postgres

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
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure Open.
type Options struct {
	// URL is a libpq-style URL or keyword/value string. Extra URL
	// parameters (e.g. search_path) become session settings.
	URL string
	// MaxConns bounds the pool; 0 keeps pgxpool's default.
	MaxConns int32
	// Logger receives the store's log lines; nil discards them.
	Logger *slog.Logger
}

// Store is the PostgreSQL implementation of storage.Store.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// Tables are the tables written once for both stores, on db.
	*sqlstore.Tables
	db *sql.DB
}

var _ storage.Store = (*Store)(nil)

// Open creates the pool and pings the server. It does not migrate: call
// Migrate. Errors name host, port and database, never the password.
func Open(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// pgx masks passwords reliably only in URLs that parse.
		if _, uerr := url.Parse(opts.URL); uerr != nil {
			return nil, errors.New("parse PostgreSQL URL: malformed (not shown: it may contain a password)")
		}
		return nil, fmt.Errorf("parse PostgreSQL URL: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
	}
	log.Debug("opened PostgreSQL store", "at", where)
	db := stdlib.OpenDBFromPool(pool)
	return &Store{pool: pool, log: log, Tables: sqlstore.New(db, db, dialect), db: db}, nil
}

// Migrate applies the embedded migrations that are not applied yet. It is
// idempotent, and safe when several instances start at once: goose's
// table-based lock (goose_lock, no advisory locks) lets one apply them
// while the others wait, then find nothing left to do.
func (s *Store) Migrate(ctx context.Context) error {
	p, closeDB, err := s.provider(true)
	if err != nil {
		return err
	}
	defer closeDB()
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate PostgreSQL: %w", err)
	}
	for _, r := range res {
		s.log.Info("applied migration", "backend", "postgres", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Version returns the schema version applied (0 before Migrate).
func (s *Store) Version(ctx context.Context) (int64, error) {
	p, closeDB, err := s.provider(false)
	if err != nil {
		return 0, err
	}
	defer closeDB()
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read PostgreSQL schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion returns the schema version applied and the latest one
// this binary embeds, reading only: unlike Version it creates no version
// table, so a store never migrated reports 0 and is left as it was.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, closeDB, err := s.provider(false)
	if err != nil {
		return 0, 0, err
	}
	closeDB() // only the embedded sources are read
	for _, src := range p.ListSources() {
		latest = max(latest, src.Version)
	}
	var tables int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class WHERE oid = to_regclass('goose_db_version')`).Scan(&tables); err != nil {
		return 0, latest, fmt.Errorf("read PostgreSQL schema version: %w", err)
	}
	if tables == 0 {
		return 0, latest, nil
	}
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&current); err != nil {
		return 0, latest, fmt.Errorf("read PostgreSQL schema version: %w", err)
	}
	return current, latest, nil
}

func (s *Store) provider(locked bool) (*goose.Provider, func(), error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if locked {
		// A waiting instance retries every second (±25 %) for up to 5
		// minutes; a crashed holder's lease lapses after 30 s.
		locker, err := lock.NewPostgresTableLocker(
			lock.WithTableLockTimeout(time.Second, 300),
			lock.WithTableLogger(s.log),
		)
		if err != nil {
			return nil, nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithLocker(locker))
	}
	db := stdlib.OpenDBFromPool(s.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, opts...)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, func() { db.Close() }, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping PostgreSQL: %w", err)
	}
	return nil
}

// Backend returns "postgres".
func (s *Store) Backend() string { return "postgres" }

// Close closes the pool.
func (s *Store) Close() error {
	s.db.Close()
	s.pool.Close()
	return nil
}

// Postgres error codes idp reacts to.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// translate maps driver errors to the storage sentinels, keeping the
// driver's message.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %v", storage.ErrConflict, err)
		case codeForeignKeyViolation:
			return fmt.Errorf("%w: %v", storage.ErrNotFound, err)
		}
	}
	return err
}

// retryable reports a transaction the server aborted to settle a race.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// ts encodes t for a timestamptz column: NULL if zero.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// tsz scans a timestamptz column into *t: UTC, the zero time for NULL.
type tsz struct{ t *time.Time }

func (d tsz) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*d.t = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return errors.New("timestamptz column: infinite value")
	default:
		*d.t = v.Time.UTC()
	}
	return nil
}

// affected reports ErrNotFound when a statement touched nothing.
func affected(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
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
