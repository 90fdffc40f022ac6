package server

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/postgres"
	"github.com/idp/idp/internal/storage/storagetest"
)

// readOnlyError is a genuine SQLite "attempt to write a readonly
// database" error (SQLITE_READONLY), from a query_only connection.
func readOnlyError(t *testing.T) error {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "ro.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE x (a INTEGER)`)
	if err == nil {
		t.Fatal("a query_only connection wrote")
	}
	return err
}

// failingWrites is an SQLite store whose writes fail as on a file turned
// read-only (or a full disk) mid-run, until healed.
type failingWrites struct {
	storage.Store
	err    error
	failed bool
}

func (f *failingWrites) fail(err error) error {
	if f.failed {
		return fmt.Errorf("write: %w", f.err)
	}
	return err
}
func (f *failingWrites) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if f.failed {
		return storage.User{}, f.fail(nil)
	}
	return f.Store.CreateUser(ctx, u)
}
func (f *failingWrites) AddFailure(ctx context.Context, key string, now time.Time, w time.Duration) (storage.Throttle, error) {
	if f.failed {
		return storage.Throttle{}, f.fail(nil)
	}
	return f.Store.AddFailure(ctx, key, now, w)
}
func (f *failingWrites) BlockThrottle(ctx context.Context, key string, until time.Time) error {
	if f.failed {
		return f.fail(nil)
	}
	return f.Store.BlockThrottle(ctx, key, until)
}

// TestStorageFaultsAre503 (item 11): when writes fail (SQLite read-only
// or full; Postgres read-only or unreachable) requests answer 503 JSON with
// Retry-After, /readyz turns 503 within its probe interval, nothing is
// half-written, and everything recovers without a restart.
func TestStorageFaultsAre503(t *testing.T) {
	const busy = `{"detail":"Service temporarily unavailable, try again later."}`
	check503 := func(t *testing.T, what string, r response) {
		t.Helper()
		if r.status != 503 || r.body != busy || r.header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s (Retry-After %q), want 503 with Retry-After", what, r.status, r.body, r.header.Get("Retry-After"))
		}
	}
	t.Run("sqlite/writes-fail", func(t *testing.T) {
		fw := &failingWrites{Store: storagetest.SQLite(t), err: readOnlyError(t)}
		e := newEnv(t, fw)
		e.register("A", "a@example.com", password)
		wantAnswer(t, "ready", e.do("GET", "/readyz", ""), 200, "")
		fw.failed = true
		check503(t, "register", e.post("/api/register/", `{"name":"B","email":"b@example.com","password":"`+password+`"}`))
		check503(t, "login", e.post("/api/token/", `{"email":"a@example.com","password":"`+password+`"}`))
		e.clock.Advance(probeEvery)
		if r := e.do("GET", "/readyz", ""); r.status != 503 {
			t.Errorf("readyz while writes fail: %d %s", r.status, r.body)
		}
		fw.failed = false
		e.clock.Advance(probeEvery)
		wantAnswer(t, "ready again", e.do("GET", "/readyz", ""), 200, "")
		e.register("B", "b@example.com", password) // recovered without restart
		if _, err := fw.Store.GetUserByEmail(t.Context(), "b@example.com"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("postgres/read-only-and-unreachable", func(t *testing.T) {
		raw := storagetest.PostgresURL(t)
		rw := storagetest.OpenPostgres(t, raw)
		kek := testKEK(t)
		a := newEnvKEK(t, rw, kek)
		a.register("A", "a@example.com", password)
		u, _ := url.Parse(raw)
		q := u.Query()
		q.Set("options", strings.TrimSpace(q.Get("options")+" -c default_transaction_read_only=on"))
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		ro, err := postgres.Open(context.Background(), postgres.Options{URL: u.String()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ro.Close() })
		b := newEnvKEK(t, ro, kek)
		check503(t, "register on a read-only database", b.post("/api/register/", `{"name":"B","email":"b@example.com","password":"`+password+`"}`))
		check503(t, "login on a read-only database", b.post("/api/token/", `{"email":"a@example.com","password":"`+password+`"}`))
		if r := b.do("GET", "/readyz", ""); r.status != 503 {
			t.Errorf("readyz on a read-only database: %d %s", r.status, r.body)
		}
		if _, err := rw.GetUserByEmail(t.Context(), "b@example.com"); err == nil {
			t.Error("the refused registration was stored")
		}
		// Unreachable mid-run: the pool closed under the server.
		ro.Close()
		check503(t, "login with the database gone", b.post("/api/token/", `{"email":"a@example.com","password":"`+password+`"}`))
	})
}
