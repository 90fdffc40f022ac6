package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/httpapi"
	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/postgres"
	"github.com/idp/idp/internal/storage/sqlite"
)

// OpenStore opens the store the configuration names: PostgreSQL when
// database.url is set, else the embedded SQLite file. It does not migrate.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (storage.Store, error) {
	if cfg.Database.URL != "" {
		s, err := postgres.Open(ctx, postgres.Options{URL: cfg.Database.URL, MaxConns: cfg.Database.MaxConns, Logger: log})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: cfg.Database.SQLitePath, Logger: log,
		StrictPermissions: cfg.Env == config.EnvProduction})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NoStoreError is OpenExisting's answer when the configured store does
// not exist or does not hold idp's current schema. Nothing was created or
// changed.
type NoStoreError struct {
	// Store is the configuration's StoreName ("sqlite data/idp.db").
	Store string
	// Path is the SQLite file looked for, absolute; empty for PostgreSQL.
	Path string
	// Reason says what is wrong ("no such file", "not migrated", …).
	Reason string
	// Version and Latest are the schema version found and the one this
	// binary needs (both 0 when there is no store at all).
	Version, Latest int64
}

func (e *NoStoreError) Error() string {
	return fmt.Sprintf("no usable idp store (%s): %s", e.Store, e.Reason)
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// OpenExisting opens the store the configuration names if it exists and
// holds idp's current schema, creating and migrating nothing: the way
// every command but serve and migrate opens it, so that a typo in a path
// or a command run from the wrong directory fails instead of making an
// empty store. Its failures that a different configuration fixes are
// *NoStoreError.
func OpenExisting(ctx context.Context, cfg config.Config, log *slog.Logger) (storage.Store, error) {
	var s storage.Store
	if cfg.Database.URL != "" {
		pg, err := postgres.Open(ctx, postgres.Options{URL: cfg.Database.URL, MaxConns: cfg.Database.MaxConns, Logger: log})
		if err != nil {
			return nil, err
		}
		s = pg
	} else {
		path := cfg.Database.SQLitePath
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		missing := func(reason string) error {
			return &NoStoreError{Store: cfg.StoreName(), Path: abs, Reason: reason}
		}
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, missing("no such file")
		}
		if err != nil {
			return nil, fmt.Errorf("open SQLite: %w", err)
		}
		head := make([]byte, len(sqliteMagic))
		_, rerr := io.ReadFull(f, head)
		fi, serr := f.Stat()
		f.Close()
		switch {
		case serr == nil && fi.IsDir():
			return nil, missing("a directory, not a database file")
		case rerr != nil || string(head) != sqliteMagic:
			return nil, missing("not a SQLite database")
		}
		lite, err := sqlite.Open(ctx, sqlite.Options{Path: path, MustExist: true, Logger: log})
		if err != nil {
			return nil, err
		}
		s = lite
	}
	sv, ok := s.(schemaVersioner)
	if !ok {
		return s, nil
	}
	current, latest, err := sv.SchemaVersion(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	if current < latest {
		e := &NoStoreError{Store: cfg.StoreName(), Version: current, Latest: latest}
		if cfg.Database.URL == "" {
			e.Path, _ = filepath.Abs(cfg.Database.SQLitePath)
		}
		if current == 0 {
			e.Reason = "it holds no idp schema (never migrated)"
		} else {
			e.Reason = fmt.Sprintf("its schema is at version %d, this idp needs %d", current, latest)
		}
		s.Close()
		return nil, e
	}
	return s, nil
}

// schemaVersioner reads a store's schema version without changing it.
type schemaVersioner interface {
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
}

// SchemaVersion is the schema version an open store is at.
func SchemaVersion(ctx context.Context, s storage.Store) (int64, error) {
	sv, ok := s.(schemaVersioner)
	if !ok {
		return 0, fmt.Errorf("store %s cannot report its schema version", s.Backend())
	}
	current, _, err := sv.SchemaVersion(ctx)
	return current, err
}

// Migrate applies the embedded migrations to an open store.
func Migrate(ctx context.Context, s storage.Store) error {
	m, ok := s.(interface{ Migrate(context.Context) error })
	if !ok {
		return fmt.Errorf("store %s cannot migrate", s.Backend())
	}
	return m.Migrate(ctx)
}

// ResolveKEKs returns the key-encryption keys: keys.encryption_keys, or in
// development a KEK generated into (and reused from) keys.kek_file, with a
// warning. Production without configured KEKs is an error.
func ResolveKEKs(cfg config.Config, log *slog.Logger) ([][]byte, error) {
	keks, err := cfg.KEKs()
	if err != nil {
		return nil, err
	}
	if len(keks) > 0 {
		if cfg.Env == config.EnvProduction {
			// A KEK copied from the development file is not a secret anyone
			// kept: refuse it.
			if dev, err := os.ReadFile(cfg.Keys.KEKFile); err == nil {
				if devKEK, err := config.DecodeKEK(string(dev)); err == nil {
					for _, k := range keks {
						if subtle.ConstantTimeCompare(k, devKEK) == 1 {
							return nil, fmt.Errorf("keys.encryption_keys holds the generated development KEK (%s); production needs its own (idp keys generate-kek)", cfg.Keys.KEKFile)
						}
					}
				}
			}
		}
		return keks, nil
	}
	if cfg.Env == config.EnvProduction {
		return nil, errors.New("keys.encryption_keys is empty: production needs a configured key-encryption key (IDP_KEYS_ENCRYPTION_KEY)")
	}
	kek, created, err := signer.LoadOrCreateKEKFile(cfg.Keys.KEKFile)
	if err != nil {
		return nil, fmt.Errorf("development key-encryption key: %w", err)
	}
	// The warning that this KEK is for development only is serve's
	// start-up block (Announce), said once, not by every command.
	if created {
		log.Info("generated a development key-encryption key", "file", cfg.Keys.KEKFile)
	} else {
		log.Debug("using the development key-encryption key", "file", cfg.Keys.KEKFile)
	}
	return [][]byte{kek}, nil
}

// DevelopmentKEK is the file of the generated development KEK when the
// configuration uses one (no keys.encryption_keys, not production), else "".
func DevelopmentKEK(cfg config.Config) string {
	if len(cfg.Keys.EncryptionKeys) > 0 || cfg.Env == config.EnvProduction {
		return ""
	}
	return cfg.Keys.KEKFile
}

// NewLogger builds the one logger: text or JSON on w, at the configured
// level, with request ids stamped on every line logged under a request.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(httpapi.LogHandler(h))
}
