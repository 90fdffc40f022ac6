package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
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
	if want := postgres.MigrationCountForTest(); applied != want {
		t.Fatalf("%d migrations recorded, want each of the %d once", applied, want)
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

// A family the janitor picked as idle but that a refresh revives before
// the DELETE reaches it (the refresh holds the row lock) is re-checked on
// its new version and kept. The test waits for the DELETE to be blocked by
// the refresh's transaction before committing it.
func TestDeleteDeadFamiliesKeepsFamilyRefreshedMeanwhile(t *testing.T) {
	url := storagetest.PostgresURL(t)
	s := storagetest.OpenPostgres(t, url)
	ctx := context.Background()
	now := time.Date(2025, 3, 24, 12, 0, 0, 0, time.UTC)
	cleanup := storage.FamilyCleanup{Now: now, IdleCutoff: now.Add(-24 * time.Hour), RevokedCutoff: now.Add(-7 * 24 * time.Hour)}
	u, err := s.CreateUser(ctx, storage.User{Email: "j@example.com", Name: "j", PasswordHash: "h", IsActive: true,
		DateJoined: now, PasswordChangedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"revived", "idle"} {
		f := storage.Family{ID: id, UserID: u.ID, CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(24 * time.Hour),
			CurrentJTI: id + "-0", CurrentKID: "k", RotatedAt: now.Add(-25 * time.Hour)}
		if err := s.CreateFamily(ctx, f); err != nil {
			t.Fatal(err)
		}
	}

	refresh, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer refresh.Close(ctx)
	tx, err := refresh.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE refresh_families SET current_jti = 'revived-1', generation = 1, rotated_at = $1
		WHERE id = 'revived'`, now); err != nil {
		t.Fatal(err)
	}

	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := s.DeleteDeadFamilies(ctx, cleanup, 10)
		done <- result{n, err}
	}()
	watch, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	deadline := time.Now().Add(20 * time.Second)
	for blocked := 0; blocked == 0; {
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`,
			refresh.PgConn().PID()).Scan(&blocked); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("DeleteDeadFamilies never waited for the refresh's row lock")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.n != 1 {
		t.Fatalf("DeleteDeadFamilies = %d, %v; want 1 (the idle family only)", r.n, r.err)
	}
	if f, err := s.GetFamily(ctx, "revived"); err != nil || f.Generation != 1 {
		t.Fatalf("refreshed family after the janitor: %+v, %v; want it kept at generation 1", f, err)
	}
	if _, err := s.GetFamily(ctx, "idle"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("idle family after the janitor: %v; want it deleted", err)
	}
}

func TestJanitorAtScale(t *testing.T) {
	s := storagetest.OpenPostgres(t, storagetest.PostgresURL(t))
	storagetest.JanitorAtScale(t, s, s.BulkFamiliesForTest, storagetest.FullScale)
}

// BenchmarkRotateFamilyIdleIndex measures what refresh_families_idle_idx
// (migration 00004, dropped by 00035) cost the refresh path: RotateFamily
// changes rotated_at, so with the index no refresh is a HOT update. 20,000
// families are bulk-loaded (packed pages, as in a long-running table) and
// refreshed in turn by the parallel goroutines, each owning a share; rotated
// at advancing times. Reports the share of HOT updates and the growth of
// the table and its indexes per refresh.
func BenchmarkRotateFamilyIdleIndex(b *testing.B) {
	const families = 20_000
	for _, tc := range []struct {
		name string
		add  bool
	}{{"with-idle-index", true}, {"without-idle-index", false}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			url := storagetest.PostgresURL(b)
			s := storagetest.OpenPostgres(b, url)
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			if tc.add {
				if _, err := conn.Exec(ctx, `CREATE INDEX refresh_families_idle_idx ON refresh_families (rotated_at) WHERE revoked_at IS NULL`); err != nil {
					b.Fatal(err)
				}
			}
			now := time.Now()
			u, err := s.CreateUser(ctx, storage.User{Email: "rotate@example.com", Name: "r", PasswordHash: "h",
				IsActive: true, DateJoined: now, PasswordChangedAt: now})
			if err != nil {
				b.Fatal(err)
			}
			fs := make([]storage.Family, families)
			for i := range fs {
				id := fmt.Sprintf("fam-%06d", i)
				fs[i] = storage.Family{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
					CurrentJTI: id + "-0", CurrentKID: "k", RotatedAt: now, UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", IP: "192.0.2.1"}
			}
			if err := s.BulkFamiliesForTest(ctx, fs); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `VACUUM ANALYZE refresh_families`); err != nil {
				b.Fatal(err)
			}
			size := func() int64 {
				var n int64
				if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('refresh_families')`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			before := size()
			var (
				next  atomic.Int64
				clock atomic.Int64
			)
			procs := runtime.GOMAXPROCS(0) // RunParallel's default goroutine count
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				g := int(next.Add(1) - 1)
				var mine []int
				for i := g; i < families; i += procs {
					mine = append(mine, i)
				}
				gen := make([]int, families)
				for k := 0; pb.Next(); k++ {
					i := mine[k%len(mine)]
					id := fs[i].ID
					old := fmt.Sprintf("%s-%d", id, gen[i])
					gen[i]++
					at := now.Add(time.Duration(clock.Add(1)) * time.Microsecond)
					if _, err := s.RotateFamily(ctx, storage.Rotation{FamilyID: id, OldJTI: old,
						NewJTI: fmt.Sprintf("%s-%d", id, gen[i]), NewKID: "k", At: at}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			updates, hot, err := s.HOTUpdatesForTest(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if updates > 0 {
				b.ReportMetric(100*float64(hot)/float64(updates), "%HOT")
			}
			b.ReportMetric(float64(size()-before)/float64(b.N), "B-growth/op")
		})
	}
}

func BenchmarkDeleteDeadFamilies(b *testing.B) {
	s := storagetest.OpenPostgres(b, storagetest.PostgresURL(b))
	storagetest.BenchDeleteDeadFamilies(b, s, s.BulkFamiliesForTest)
}

// BenchmarkSearchUsers: the admin users page over 100,000 users.
func BenchmarkSearchUsers(b *testing.B) {
	s := storagetest.OpenPostgres(b, storagetest.PostgresURL(b))
	storagetest.BenchSearchUsers(b, s, s.AnalyzeUsersForTest)
}

func TestWithdrawConsentIsAtomic(t *testing.T) {
	url := storagetest.PostgresURL(t)
	s := storagetest.OpenPostgres(t, url)
	storagetest.WithdrawConsentIsAtomic(t, s, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE FUNCTION refuse_revocation() RETURNS trigger LANGUAGE plpgsql AS
			$$BEGIN RAISE EXCEPTION 'test: revocation refused'; END$$;
			CREATE TRIGGER refuse_revocation BEFORE UPDATE OF revoked_at ON refresh_families
			FOR EACH ROW EXECUTE FUNCTION refuse_revocation()`)
		return err
	})
}
