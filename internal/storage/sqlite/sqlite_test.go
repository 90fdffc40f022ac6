package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/sqlite"
	"github.com/idp/idp/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return storagetest.SQLite(t) })
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("creates-private-directory-and-files", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "nested")
		s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "idp.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Fatalf("directory mode %o, want 700", perm)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"idp.db", "idp.db-wal", "idp.db-shm"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Fatalf("%s mode %o, want 600", name, perm)
			}
		}
	})
	for _, tc := range []struct{ name, path string }{
		{"empty-path", ""},
		{"query-in-path", filepath.Join(t.TempDir(), "idp.db?mode=ro")},
		{"uri-path", "file:idp.db"},
	} {
		t.Run("rejects-"+tc.name, func(t *testing.T) {
			s, err := sqlite.Open(ctx, sqlite.Options{Path: tc.path})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", tc.path)
			}
		})
	}
}

func TestVersionBeforeAndAfterMigrate(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "idp.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version before Migrate = %d, %v; want 0", v, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v != sqlite.LatestVersion() || v < 2 {
		t.Fatalf("Version after Migrate = %d, %v; want %d", v, err, sqlite.LatestVersion())
	}
}

// The file survives a reopen, and a second process-like store on the same
// file sees the first one's writes.
func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.db")
	ctx := context.Background()
	a := storagetest.OpenSQLite(t, path)
	now := time.Now()
	u, err := a.CreateUser(ctx, storage.User{Email: "keep@example.com", Name: "k", PasswordHash: "h",
		IsActive: true, DateJoined: now, PasswordChangedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	b := storagetest.OpenSQLite(t, path)
	got, err := b.GetUser(ctx, u.ID)
	if err != nil || got != u {
		t.Fatalf("second store read %+v, %v; want %+v", got, err, u)
	}
	// Writes from two stores on one file wait for each other (busy
	// timeout) instead of failing with "database is locked".
	errs := make(chan error, 2)
	for _, s := range []*sqlite.Store{a, b} {
		go func() {
			for i := range 50 {
				if err := s.SetLastLogin(ctx, u.ID, now.Add(time.Duration(i)*time.Second)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
				t.Fatalf("concurrent writers from two stores: %v", err)
			}
			t.Fatal(err)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	storagetest.Bench(b, func(b *testing.B) storage.Store { return storagetest.SQLite(b) })
}

func FuzzText(f *testing.F) {
	storagetest.FuzzText(f, storagetest.SQLite(f))
}

// The race detector slows the SQLite engine (Go code, instrumented too)
// about thirtyfold: there the test runs a fifth of FullScale in the same
// number of batches, ~10 s instead of ~70 s; without it (make test-short,
// make bench) it runs FullScale in ~3 s.
func TestJanitorAtScale(t *testing.T) {
	s := storagetest.OpenSQLite(t, filepath.Join(t.TempDir(), "idp.db"))
	sc := storagetest.FullScale
	if raceDetector {
		sc = storagetest.Scale{Families: sc.Families / 5, Batch: sc.Batch / 5}
		t.Logf("race detector on: %d families in batches of %d", sc.Families, sc.Batch)
	}
	storagetest.JanitorAtScale(t, s, s.BulkFamiliesForTest, sc)
}

func BenchmarkDeleteDeadFamilies(b *testing.B) {
	s := storagetest.OpenSQLite(b, filepath.Join(b.TempDir(), "idp.db"))
	storagetest.BenchDeleteDeadFamilies(b, s, s.BulkFamiliesForTest)
}

// BenchmarkSearchUsers: the admin users page over 100,000 users.
func BenchmarkSearchUsers(b *testing.B) {
	storagetest.BenchSearchUsers(b, storagetest.SQLite(b), nil)
}

func TestWithdrawConsentIsAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.db")
	s := storagetest.OpenSQLite(t, path)
	storagetest.WithdrawConsentIsAtomic(t, s, func(ctx context.Context) error {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, `CREATE TRIGGER refuse_revocation BEFORE UPDATE OF revoked_at ON refresh_families
			BEGIN SELECT RAISE(ABORT, 'test: revocation refused'); END`)
		return err
	})
}
