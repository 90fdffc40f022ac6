package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/postgres"
	"github.com/idp/idp/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return storagetest.Postgres(t) })
}

// Instances starting at once on an empty schema all succeed, and the
// migrations are applied exactly once.
func TestConcurrentMigrate(t *testing.T) {
	url := storagetest.PostgresURL(t)
	ctx := context.Background()
	const n = 4
	stores := make([]*postgres.Store, n)
	for i := range stores {
		s, err := postgres.Open(ctx, postgres.Options{URL: url, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	errs := make(chan error, n)
	start := make(chan struct{})
	for _, s := range stores {
		go func() {
			<-start
			errs <- s.Migrate(ctx)
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var applied, lockRows int
	latest := postgres.LatestVersion()
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if int64(applied) != latest {
		t.Fatalf("%d migrations recorded, want each of the %d once", applied, latest)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM signing_key_lock`).Scan(&lockRows); err != nil {
		t.Fatal(err)
	}
	if lockRows != 1 {
		t.Fatalf("signing_key_lock has %d rows, want 1", lockRows)
	}
	for _, s := range stores {
		if v, err := s.Version(ctx); err != nil || v != latest {
			t.Fatalf("Version = %d, %v; want %d", v, err, latest)
		}
	}
}

// UpdateSigningKeys retries the whole transaction, decide included, when
// the server aborts it with a serialization failure; a trigger injects
// the failures (a sequence counts them: it is not rolled back).
func TestUpdateSigningKeysRetriesSerializationFailures(t *testing.T) {
	cases := []struct {
		name      string
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"succeeds-after-two-failures", 2, 3, false},
		{"gives-up-after-five-attempts", 100, 5, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := storagetest.PostgresURL(t)
			s := storagetest.OpenPostgres(t, url)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, fmt.Sprintf(`
				CREATE SEQUENCE injected_failures;
				CREATE FUNCTION inject_40001() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					IF nextval('injected_failures') <= %d THEN
						RAISE EXCEPTION 'injected' USING ERRCODE = '40001';
					END IF;
					RETURN NEW;
				END $$;
				CREATE TRIGGER inject BEFORE INSERT ON signing_keys FOR EACH ROW EXECUTE FUNCTION inject_40001();`,
				tc.failures))
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			now := time.Now()
			err = s.UpdateSigningKeys(ctx, func(cur []storage.SigningKey) (storage.KeyChanges, error) {
				calls++
				return storage.KeyChanges{Insert: []storage.SigningKey{{KID: "k", Alg: "RS256", State: storage.KeyActive,
					PrivateKey: []byte("p"), PublicJWK: []byte("{}"), CreatedAt: now, ActivatesAt: now}}}, nil
			})
			if (err != nil) != tc.wantErr || calls != tc.wantCalls {
				t.Fatalf("UpdateSigningKeys: err %v after %d decide calls; want error %v after %d", err, calls, tc.wantErr, tc.wantCalls)
			}
			keys, err := s.ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if wantKeys := map[bool]int{false: 1, true: 0}[tc.wantErr]; len(keys) != wantKeys {
				t.Fatalf("%d keys stored, want %d", len(keys), wantKeys)
			}
		})
	}
}

func TestVersionBeforeMigrate(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Options{URL: storagetest.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version before Migrate = %d, %v; want 0", v, err)
	}
}

func TestOpenErrorsNeverShowThePassword(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, url, mention string
	}{
		{"unreachable", "postgres://idp:s3cretPW@127.0.0.1:1/idpdb?sslmode=disable&connect_timeout=2", "127.0.0.1:1/idpdb"},
		{"bad-option", "postgres://idp:s3cretPW@127.0.0.1:5432/idpdb?sslmode=bogus", "parse PostgreSQL URL"},
		{"malformed-url", "postgres://idp:s3cretPW@[::1:5432/idpdb", "parse PostgreSQL URL"},
		{"keyword-value", "host=127.0.0.1 port=1 dbname=idpdb user=idp password=s3cretPW connect_timeout=2", "127.0.0.1:1/idpdb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, postgres.Options{URL: tc.url})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "s3cretPW") {
				t.Fatalf("error shows the password: %v", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func BenchmarkStore(b *testing.B) {
	storagetest.Bench(b, func(b *testing.B) storage.Store { return storagetest.Postgres(b) })
}

func FuzzText(f *testing.F) {
	storagetest.FuzzText(f, storagetest.Postgres(f))
}
