package loadbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/server"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users"
)

// userEmail is seeded user i's email (i from 1).
func userEmail(i int) string { return fmt.Sprintf("user%d@loadbench.test", i) }

// seed writes, into the store idp migrated, n users (all with one
// argon2id hash of password at the configured parameters, so that a login
// costs what a production login costs) through the bulk import, and
// families live refresh families spread over them straight through the
// store: no HTTP registrations, no hashing per user.
func seed(ctx context.Context, cfg config.Config, n, families int, password string) error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := server.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	p := cfg.Passwords.Argon2
	hash, err := users.NewHasher(users.Argon2Params{MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism}).Hash(password)
	if err != nil {
		return err
	}
	imports, ok := store.(storage.UserImports)
	if !ok {
		return fmt.Errorf("store %s has no bulk import", store.Backend())
	}
	im, err := imports.BeginUserImport(ctx)
	if err != nil {
		return err
	}
	defer im.Rollback(ctx)
	now := time.Now().UTC()
	const batch = 5000
	for lo := 1; lo <= n; lo += batch {
		us := make([]storage.User, 0, batch)
		for i := lo; i < lo+batch && i <= n; i++ {
			us = append(us, storage.User{ID: int64(i), Email: userEmail(i), Name: fmt.Sprintf("User %d", i),
				PasswordHash: hash, IsActive: true, DateJoined: now, PasswordChangedAt: now})
		}
		if err := im.Stage(ctx, us); err != nil {
			return err
		}
	}
	if clashes, err := im.Clashes(ctx); err != nil {
		return err
	} else if len(clashes) > 0 {
		return fmt.Errorf("seed: %d clashes in a fresh store", len(clashes))
	}
	if _, err := im.Apply(ctx, false, false); err != nil {
		return err
	}
	if err := im.Commit(ctx); err != nil {
		return err
	}
	if cfg.Database.URL != "" {
		return copyFamilies(ctx, cfg.Database.URL, n, families, now, cfg.Tokens.SessionTTL)
	}
	workers := 1
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < families; i += workers {
				f := storage.Family{ID: "seed-" + randHex(12), UserID: int64(i%n + 1), CreatedAt: now,
					ExpiresAt: now.Add(cfg.Tokens.SessionTTL), CurrentJTI: randHex(16), CurrentKID: "seed",
					RotatedAt: now, UserAgent: "loadbench", IP: "127.0.0.1"}
				if err := store.CreateFamily(ctx, f); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// copyFamilies bulk-loads live families into PostgreSQL with COPY (a
// million rows in seconds; CreateFamily one by one would take minutes).
func copyFamilies(ctx context.Context, url string, n, families int, now time.Time, ttl time.Duration) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	cols := []string{"id", "user_id", "created_at", "expires_at", "current_jti", "current_kid", "generation", "rotated_at", "user_agent", "ip"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= families {
			return nil, nil
		}
		i++
		return []any{"seed-" + randHex(12), int64(i%n + 1), now, now.Add(ttl), randHex(16), "seed", int64(0), now, "loadbench", "127.0.0.1"}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"refresh_families"}, cols, src); err != nil {
		return fmt.Errorf("copy families: %w", err)
	}
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}
