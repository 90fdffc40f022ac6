package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

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
	if created {
		log.Warn("generated a development key-encryption key; set IDP_KEYS_ENCRYPTION_KEY in production", "file", cfg.Keys.KEKFile)
	} else {
		log.Warn("using the development key-encryption key; set IDP_KEYS_ENCRYPTION_KEY in production", "file", cfg.Keys.KEKFile)
	}
	return [][]byte{kek}, nil
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
