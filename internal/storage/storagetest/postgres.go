package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/postgres"
)

// DefaultDatabaseURL is used when IDP_TEST_DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Postgres returns a fresh, migrated store on its own schema (see
// PostgresURL), closed and dropped at cleanup. If Postgres is unreachable
// the test is skipped, or fails when IDP_TEST_REQUIRE_POSTGRES=1.
func Postgres(t testing.TB) storage.Store {
	t.Helper()
	return OpenPostgres(t, PostgresURL(t))
}

// OpenPostgres opens and migrates a store on rawURL (e.g. one from
// PostgresURL, for tests that open several stores on one schema), closing
// it at cleanup.
func OpenPostgres(t testing.TB, rawURL string) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Options{URL: rawURL})
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	return s
}

// PostgresURL creates an empty schema idp_test_<random> on
// IDP_TEST_DATABASE_URL and returns that URL with search_path selecting
// it; the schema is dropped (CASCADE) at cleanup. Unreachable Postgres:
// see Postgres.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("IDP_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultDatabaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storagetest: IDP_TEST_DATABASE_URL is not a URL")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("IDP_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("storagetest: Postgres required (IDP_TEST_REQUIRE_POSTGRES=1) but unreachable: %v", err)
		}
		t.Skipf("storagetest: Postgres unreachable, skipping (set IDP_TEST_DATABASE_URL; IDP_TEST_REQUIRE_POSTGRES=1 to fail instead): %v", err)
	}
	defer conn.Close(ctx)

	schema := "idp_test_" + randomHex(t, 8)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storagetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("storagetest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storagetest: drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	return hex.EncodeToString(b)
}

// ForEachBackend runs fn as the subtests "sqlite" and "postgres", each with
// a fresh store.
func ForEachBackend(t *testing.T, fn func(t *testing.T, s storage.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}
