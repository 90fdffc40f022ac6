package djangoimport_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/djangoimport"
	"github.com/idp/idp/internal/djangoimport/djangotest"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/users"
)

var importTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func rowsOf(t *testing.T, src djangoimport.Source) []djangoimport.Row {
	t.Helper()
	var rows []djangoimport.Row
	if err := src.Rows(context.Background(), func(r djangoimport.Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

func openSQLite(t *testing.T) djangoimport.Source {
	t.Helper()
	src, err := djangoimport.Open(context.Background(), djangotest.SQLitePath(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func openFixture(t *testing.T) djangoimport.Source {
	t.Helper()
	src, err := djangoimport.OpenFixture(djangotest.DumpdataPath(), "")
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// The three sources read the same users: the SQLite file, the dumpdata
// JSON of it, and a Postgres database made with Django's DDL.
func TestSourcesAgree(t *testing.T) {
	fromSQLite := rowsOf(t, openSQLite(t))
	if len(fromSQLite) != len(djangotest.Users(t)) {
		t.Fatalf("read %d rows, fixture has %d users", len(fromSQLite), len(djangotest.Users(t)))
	}
	if !reflect.DeepEqual(rowsOf(t, openFixture(t)), fromSQLite) {
		t.Errorf("fixture rows differ from SQLite rows:\n%+v\n%+v", rowsOf(t, openFixture(t)), fromSQLite)
	}
	url, ids := djangotest.Postgres(t)
	pg, err := djangoimport.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var want []djangoimport.Row
	for _, r := range fromSQLite {
		for _, id := range ids {
			if r.ID == id {
				want = append(want, r)
			}
		}
	}
	if got := rowsOf(t, pg); !reflect.DeepEqual(got, want) {
		t.Errorf("Postgres rows differ:\n%+v\n%+v", got, want)
	}
	c := fromSQLite[2]
	if c.Name != "" || c.FirstName != "Carol" || c.LastName != "Jones" || !c.LastLogin.IsZero() || c.DateJoined.IsZero() {
		t.Errorf("carol = %+v", c)
	}
}

func importInto(t *testing.T, src djangoimport.Source, store storage.Store, opts djangoimport.Options) (*djangoimport.Report, error) {
	t.Helper()
	opts.Now = func() time.Time { return importTime }
	return djangoimport.Import(context.Background(), src, store.(storage.UserImports), opts)
}

func countUsers(t *testing.T, s storage.Store) int {
	us, err := s.ListUsers(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(us)
}

var resolveAll = djangoimport.Options{OnConflict: djangoimport.KeepNewestLogin, SkipInvalid: true, AllowWeakHashes: true}

func TestImportFixture(t *testing.T) {
	for source, open := range map[string]func(*testing.T) djangoimport.Source{"from-sqlite": openSQLite, "from-dumpdata": openFixture} {
		t.Run(source, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) { testImportFixture(t, open, store) })
		})
	}
}

func testImportFixture(t *testing.T, open func(*testing.T) djangoimport.Source, store storage.Store) {
	fixture := djangotest.Users(t)

	// By default: blocked by the refused rows and Bob's conflict, nothing written.
	rep, err := importInto(t, open(t), store, djangoimport.Options{})
	if !errors.Is(err, djangoimport.ErrBlocked) || rep.Written || countUsers(t, store) != 0 {
		t.Fatalf("default import: %v, written %v, %d users; want blocked, nothing written", err, rep != nil && rep.Written, countUsers(t, store))
	}
	byReason := rep.RefusedByReason()
	want := map[string]int{"weak_hash": 5, "name_too_long": 1, "invalid_email": 1, "malformed_hash": 1}
	if !reflect.DeepEqual(byReason, want) {
		t.Errorf("refused by reason = %v, want %v", byReason, want)
	}
	if len(rep.Conflicts) != 1 || len(rep.Conflicts[0].Users) != 2 || rep.Conflicts[0].Kept != 0 ||
		rep.Conflicts[0].Users[0].Email != "bob@example.com" || rep.Conflicts[0].Users[1].Email != "Bob@example.com" {
		t.Errorf("conflicts = %+v", rep.Conflicts)
	}
	for _, r := range rep.Refused {
		for _, u := range fixture {
			if u.ID == r.ID && u.Reason != "" && u.Reason != r.Reason {
				t.Errorf("user %d refused for %s, want %s", r.ID, r.Reason, u.Reason)
			}
		}
	}

	// A dry run with everything resolved: the counts, nothing written.
	dry := resolveAll
	dry.DryRun = true
	rep, err = importInto(t, open(t), store, dry)
	if err != nil || rep.Written || rep.Imported != 15 || rep.Skipped != 4 || countUsers(t, store) != 0 {
		t.Fatalf("dry run: %v, %+v, %d users", err, rep, countUsers(t, store))
	}

	rep, err = importInto(t, open(t), store, resolveAll)
	if err != nil || !rep.Written || rep.Imported != 15 || rep.Skipped != 4 || rep.Conflicts[0].Kept != 15 {
		t.Fatalf("import: %v, %+v", err, rep)
	}
	h := users.NewHasher(users.Argon2Params{})
	for _, fu := range fixture {
		u, err := store.GetUser(context.Background(), fu.ID)
		switch fu.Expect {
		case "imported", "weak", "unusable":
			if err != nil {
				t.Errorf("user %d (%s) not imported: %v", fu.ID, fu.Email, err)
				continue
			}
			if fu.Password == "" {
				if ok, _ := h.Verify(u.PasswordHash, ""); ok || !strings.HasPrefix(u.PasswordHash, "!") {
					t.Errorf("unusable user %d: hash %q", fu.ID, u.PasswordHash)
				}
				continue
			}
			if ok, _ := h.Verify(u.PasswordHash, fu.Password); !ok {
				t.Errorf("user %d (%s): its Django password does not verify", fu.ID, fu.Email)
			}
		case "conflict": // Bob@example.com (15) logged in last: kept over bob@ (2)
			if fu.ID == 15 && (err != nil || u.Email != "Bob@example.com") {
				t.Errorf("user %d: %+v, %v; want kept", fu.ID, u, err)
			}
			if fu.ID == 2 && !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("user 2, the conflict's loser, imported")
			}
		default:
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("refused user %d imported", fu.ID)
			}
		}
	}
	alice, _ := store.GetUser(context.Background(), 1)
	wantAlice := storage.User{ID: 1, Email: "alice@example.com", Name: "Alice Admin", PasswordHash: alice.PasswordHash,
		IsActive: true, IsStaff: true, IsSuperuser: true, IsAdmin: true,
		DateJoined: time.Date(2023, 5, 2, 9, 30, 0, 0, time.UTC), LastLogin: time.Date(2023, 11, 17, 12, 30, 0, 0, time.UTC),
		PasswordChangedAt: importTime}
	if !reflect.DeepEqual(alice, wantAlice) || !strings.HasPrefix(alice.PasswordHash, "pbkdf2_sha256$260000$") {
		t.Errorf("alice = %+v\nwant %+v", alice, wantAlice)
	}
	if carol, _ := store.GetUser(context.Background(), 3); carol.Name != "Carol Jones" {
		t.Errorf("carol's name = %q, want first + last", carol.Name)
	}
	if peggy, _ := store.GetUser(context.Background(), 14); peggy.IsActive {
		t.Error("inactive peggy imported active")
	}
	next, err := store.CreateUser(context.Background(), storage.User{Email: "new@example.com", Name: "New", PasswordHash: "!",
		DateJoined: importTime, PasswordChangedAt: importTime})
	if err != nil || next.ID <= 20 {
		t.Errorf("registration after import: id %d, %v; want > 20", next.ID, err)
	}

	// Again: nothing changes, and it succeeds.
	rep, err = importInto(t, open(t), store, resolveAll)
	if err != nil || rep.Imported != 0 || rep.Unchanged != 15 || rep.NotUpdated != 0 {
		t.Fatalf("second import: %v, %+v", err, rep)
	}
}

func TestImportErrors(t *testing.T) {
	ctx := context.Background()
	notSQLite := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notSQLite, []byte("hello"), 0o600)
	idpStore := filepath.Join(t.TempDir(), "idp.db")
	storagetest.OpenSQLite(t, idpStore)
	tests := []struct {
		name, dsn, table, want string
	}{
		{"unreachable-postgres", "postgres://postgres:secret@127.0.0.1:1/django?sslmode=disable&connect_timeout=2", "", "cannot reach the Django database postgres://postgres:xxxxx@127.0.0.1:1/"},
		{"missing-file", filepath.Join(t.TempDir(), "nope.sqlite3"), "", "no such file"},
		{"not-sqlite", notSQLite, "", "neither a postgres:// URL nor a SQLite database"},
		{"not-django", idpStore, "", "no table djangojwtapp_user and no django_migrations: not a Django database"},
		{"wrong-table", djangotest.SQLitePath(), "accounts_user", "the Django database " + djangotest.SQLitePath() + " has no table accounts_user"},
		{"missing-columns", djangotest.SQLitePath(), "auth_group", "missing columns password, last_login"},
		{"bad-table-name", djangotest.SQLitePath(), "users; drop", "not an SQL table name"},
		{"other-scheme", "mysql://x@y/z", "", "want a postgres:// URL or the path of a SQLite file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := djangoimport.Open(ctx, tt.dsn, tt.table)
			if err == nil {
				src.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
				t.Errorf("Open: %v\nwant it to contain %q (and no password)", err, tt.want)
			}
		})
	}
	t.Run("postgres-missing-columns", func(t *testing.T) {
		url := storagetest.PostgresURL(t)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TABLE djangojwtapp_user (id serial PRIMARY KEY, email varchar(100), name varchar(100))`); err != nil {
			t.Fatal(err)
		}
		_, err = djangoimport.Open(ctx, url, "")
		if !errors.Is(err, djangoimport.ErrNotDjango) || !strings.Contains(err.Error(), "missing columns password, last_login, is_superuser, date_joined, is_active, is_staff") {
			t.Errorf("Open: %v", err)
		}
	})
}

// A million users from Postgres (made with generate_series in the test
// database's throw-away schema) into a Postgres store. Gated: set
// IDP_IMPORT_SCALE=1000000 (and IDP_TEST_DATABASE_URL). It logs the time;
// the target is under 2 minutes.
func TestImportAtScale(t *testing.T) {
	n := os.Getenv("IDP_IMPORT_SCALE")
	if n == "" {
		t.Skip("set IDP_IMPORT_SCALE=<users> to run")
	}
	ctx := context.Background()
	url, _ := djangotest.Postgres(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	start := time.Now()
	if _, err := conn.Exec(ctx, `TRUNCATE djangojwtapp_user CASCADE`); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO djangojwtapp_user (id, password, last_login, first_name, last_name, name, email,
		date_joined, is_admin, is_active, is_staff, is_superuser)
		SELECT i, 'pbkdf2_sha256$260000$' || md5(i::text) || '$' || encode(sha256(i::text::bytea), 'base64'),
			CASE WHEN i % 3 = 0 THEN NULL ELSE now() - i * interval '1 minute' END, '', '', 'User ' || i,
			'user' || i || '@Example.com', now() - i * interval '1 hour', i % 100 = 0, i % 50 <> 0, false, false
		FROM generate_series(1, `+n+`) AS i`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("made %s Django users in %v", n, time.Since(start))
	store := storagetest.Postgres(t)
	src, err := djangoimport.Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	runtime.GC()
	var ms runtime.MemStats
	var peakHeap uint64
	start = time.Now()
	rep, err := djangoimport.Import(ctx, src, store.(storage.UserImports), djangoimport.Options{
		Progress: func(p djangoimport.Progress) {
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
			if p.Phase != "reading" || p.Read%200000 == 0 {
				t.Logf("%6.1fs %s %d/%d heap in use %d MiB", time.Since(start).Seconds(), p.Phase, p.Read, p.Total, ms.HeapInuse>>20)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %d users in %v (%+v); peak heap in use (sampled per batch) %d MiB", rep.Imported, time.Since(start), rep.Formats, peakHeap>>20)
	if rep.Imported != rep.Read {
		t.Errorf("imported %d of %d", rep.Imported, rep.Read)
	}
}

// Accounts already in idp: an id held by another email, an email held by
// another id. Both refused by name, nothing else affected.
func TestImportAgainstExistingAccounts(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		for _, email := range []string{"zed@example.com", "CAROL@example.com"} { // ids 1, 2
			if _, err := store.CreateUser(context.Background(), storage.User{Email: email, Name: "Native", PasswordHash: "!",
				IsActive: true, DateJoined: importTime, PasswordChangedAt: importTime}); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := importInto(t, openSQLite(t), store, djangoimport.Options{OnConflict: djangoimport.KeepNewestLogin, AllowWeakHashes: true})
		if !errors.Is(err, djangoimport.ErrBlocked) {
			t.Fatalf("import over taken ids and emails: %v", err)
		}
		got := map[int64]string{}
		for _, r := range rep.Refused {
			got[r.ID] = r.Reason
		}
		for id, want := range map[int64]string{1: "id_taken", 2: "id_taken", 3: "email_taken", 16: "name_too_long"} {
			if got[id] != want {
				t.Errorf("user %d: refused %q, want %q (refused: %+v)", id, got[id], want, rep.Refused)
			}
		}
		rep, err = importInto(t, openSQLite(t), store, djangoimport.Options{OnConflict: djangoimport.KeepNewestLogin, AllowWeakHashes: true, SkipInvalid: true})
		// 19 read: 6 refused (ids 1, 2, 3, 16, 17, 18); bob (2) is also the
		// conflict's loser and counts once.
		if err != nil || rep.Imported != 13 || rep.Skipped != 6 {
			t.Fatalf("import --skip-invalid: %v, imported %d skipped %d", err, rep.Imported, rep.Skipped)
		}
		if u, _ := store.GetUser(context.Background(), 1); u.Email != "zed@example.com" {
			t.Errorf("idp's user 1 became %+v", u)
		}
	})
}

// A row changed in Django after the import: reported without --update,
// applied with it.
func TestImportUpdate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite3")
	b, err := os.ReadFile(djangotest.SQLitePath())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b, 0o600)
	store := storagetest.SQLite(t)
	open := func(t *testing.T) djangoimport.Source {
		src, err := djangoimport.Open(context.Background(), path, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	if _, err := importInto(t, open(t), store, resolveAll); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE djangojwtapp_user SET name = 'Frank Renamed', is_staff = 0 WHERE id = 6`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	rep, err := importInto(t, open(t), store, resolveAll)
	if err != nil || rep.NotUpdated != 1 || rep.Updated != 0 || rep.Unchanged != 14 {
		t.Fatalf("without --update: %v, %+v", err, rep)
	}
	if u, _ := store.GetUser(context.Background(), 6); u.Name != "Frank" {
		t.Errorf("changed without --update: %+v", u)
	}
	upd := resolveAll
	upd.Update = true
	rep, err = importInto(t, open(t), store, upd)
	if err != nil || rep.Updated != 1 || rep.Unchanged != 14 {
		t.Fatalf("with --update: %v, %+v", err, rep)
	}
	if u, _ := store.GetUser(context.Background(), 6); u.Name != "Frank Renamed" || u.IsStaff {
		t.Errorf("not updated: %+v", u)
	}
}

func FuzzFixture(f *testing.F) {
	b, err := os.ReadFile(djangotest.DumpdataPath())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`[{"model":"djangojwtapp.user","pk":1,"fields":{}}]`))
	f.Add([]byte(`[{"model":"djangojwtapp.user","pk":"x"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		src, err := djangoimport.OpenFixture(path, "")
		if err != nil {
			t.Fatal(err)
		}
		// Any input: an error or rows, never a panic.
		src.Rows(context.Background(), func(r djangoimport.Row) error { return nil })
	})
}
