// Package djangotest gives tests the shared Django fixture of
// internal/djangoimport/testdata (made by gen_fixture.py with Django
// itself): the tutorial app's SQLite database, its dumpdata JSON, the
// users' known passwords, and a Postgres copy made with Django's own DDL
// in a throw-away schema. Only tests import it.
package djangotest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/djangoimport"
	"github.com/idp/idp/internal/storage/storagetest"
)

// SQLiteRows reads the fixture database's user table.
func SQLiteRows(t testing.TB) []djangoimport.Row {
	t.Helper()
	src, err := djangoimport.Open(context.Background(), SQLitePath(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var rows []djangoimport.Row
	if err := src.Rows(context.Background(), func(r djangoimport.Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

// User is one fixture user and what an import must do with it.
type User struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Password string `json:"password"` // "" for the unusable one
	Format   string `json:"format"`
	// Expect: "imported", "weak" (imported with --allow-weak-hashes),
	// "unusable" (imported, cannot log in), "refused" (Reason says why),
	// "conflict" (Bob@example.com against bob@example.com).
	Expect string `json:"expect"`
	Reason string `json:"reason"`
}

func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// SQLitePath is the fixture db.sqlite3 (read-only use: copy it to write).
func SQLitePath() string { return filepath.Join(dir(), "django.sqlite3") }

// DumpdataPath is `manage.py dumpdata djangojwtapp.User` of the fixture.
func DumpdataPath() string { return filepath.Join(dir(), "dumpdata.json") }

// Users returns the fixture's users with their passwords, by id.
func Users(t testing.TB) []User {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir(), "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Users []User }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Users
}

// Postgres creates the tutorial app's schema with Django's DDL
// (testdata/django_postgres.sql) in a fresh schema of the test database
// and copies the fixture's users into it, except those Postgres itself
// refuses (the 101-character name: varchar(100)). It returns the URL
// (search_path set) and the ids copied.
func Postgres(t testing.TB) (string, []int64) {
	t.Helper()
	url := storagetest.PostgresURL(t)
	ctx := context.Background()
	ddl, err := os.ReadFile(filepath.Join(dir(), "django_postgres.sql"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, string(ddl)); err != nil {
		t.Fatalf("django DDL: %v", err)
	}
	var ids []int64
	for _, r := range SQLiteRows(t) {
		if len([]rune(r.Name)) > 100 {
			continue
		}
		_, err := conn.Exec(ctx, `INSERT INTO djangojwtapp_user (id, password, last_login, first_name, last_name, name,
			email, date_joined, is_admin, is_active, is_staff, is_superuser) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			r.ID, r.Password, r.LastLogin, r.FirstName, r.LastName, r.Name, r.Email, r.DateJoined,
			r.IsAdmin, r.IsActive, r.IsStaff, r.IsSuperuser)
		if err != nil {
			t.Fatalf("copy user %d: %v", r.ID, err)
		}
		ids = append(ids, r.ID)
	}
	// As Django leaves it: the serial's sequence past the ids.
	if _, err := conn.Exec(ctx, `SELECT setval(pg_get_serial_sequence('djangojwtapp_user', 'id'), max(id)) FROM djangojwtapp_user`); err != nil {
		t.Fatal(err)
	}
	return url, ids
}
