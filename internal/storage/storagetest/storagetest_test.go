package storagetest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

func TestForEachBackend(t *testing.T) {
	var seen []string
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		seen = append(seen, t.Name()+"="+s.Backend())
		if _, err := s.CreateUser(t.Context(), storage.User{Email: "x@example.com", Name: "x", PasswordHash: "h",
			DateJoined: t0(), PasswordChangedAt: t0()}); err != nil {
			t.Fatalf("fresh store not migrated: %v", err)
		}
	})
	want := []string{"TestForEachBackend/sqlite=sqlite", "TestForEachBackend/postgres=postgres"}
	if len(seen) == 1 {
		t.Logf("postgres skipped: %v", seen)
		want = want[:1]
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("ran %v, want %v", seen, want)
	}
}

func TestPostgresURLSchemaDroppedAtCleanup(t *testing.T) {
	var url string
	t.Run("use", func(t *testing.T) {
		url = storagetest.PostgresURL(t)
		storagetest.OpenPostgres(t, url)
	})
	if url == "" {
		t.Skip("Postgres unreachable")
	}
	schema := url[strings.Index(url, "search_path=")+len("search_path="):]
	if i := strings.IndexByte(schema, '&'); i >= 0 {
		schema = schema[:i]
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "idp_test_") || n != 0 {
		t.Fatalf("schema %q: %d left after cleanup, want 0", schema, n)
	}
}

func TestPostgresUnreachable(t *testing.T) {
	const unreachable = "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"
	if os.Getenv("STORAGETEST_CHILD") == "1" {
		// Child process: just call Postgres; the parent reads the outcome.
		storagetest.Postgres(t)
		t.Log("REACHED")
		return
	}
	cases := []struct {
		name    string
		require string
		wantOut string
		wantErr bool
	}{
		{"skips", "", "--- SKIP: TestPostgresUnreachable", false},
		{"fails-when-required", "1", "IDP_TEST_REQUIRE_POSTGRES=1", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresUnreachable$", "-test.v")
			cmd.Env = append(os.Environ(), "STORAGETEST_CHILD=1", "IDP_TEST_DATABASE_URL="+unreachable,
				"IDP_TEST_REQUIRE_POSTGRES="+tc.require)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantErr || !strings.Contains(string(out), tc.wantOut) || strings.Contains(string(out), "REACHED") {
				t.Fatalf("child: err %v, output:\n%s", err, out)
			}
		})
	}
}

func t0() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
