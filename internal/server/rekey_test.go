package server

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// TestExistingEmailKeysMigrated (item 8): rows stored under the old key
// (plain lower-casing) are re-keyed at start-up, so a look-alike form now
// finds the account; two accounts that the new key makes one are reported
// and kept apart.
func TestExistingEmailKeysMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.db")
	store := storagetest.OpenSQLite(t, path)
	ctx := context.Background()
	now := time.Now()
	create := func(email string) {
		if _, err := store.CreateUser(ctx, storage.User{Email: email, Name: "N", PasswordHash: "x", IsActive: true, DateJoined: now, PasswordChangedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// As today's code stored them: the key is the lower-cased address,
	// and the fullwidth twin of ann@example.com is a separate account.
	create("jo@bücher.de")
	create("ann@example.com")
	exec(`UPDATE users SET email_key = 'tmp' WHERE email = 'ann@example.com'`)
	create("ann@ｅｘａｍｐｌｅ.com")
	exec(`UPDATE users SET email_key = ? WHERE email = ?`, "ann@ｅｘａｍｐｌｅ.com", "ann@ｅｘａｍｐｌｅ.com")
	exec(`UPDATE users SET email_key = 'ann@example.com' WHERE email = 'ann@example.com'`)
	exec(`UPDATE users SET email_key = ? WHERE email = ?`, "jo@bücher.de", "jo@bücher.de")
	db.Close()
	if _, err := store.GetUserByEmail(ctx, "jo@xn--bcher-kva.de"); err == nil {
		t.Fatal("fixture: the old key already matches the punycode form")
	}
	var logs bytes.Buffer
	if _, err := New(ctx, Options{Config: testConfig(), Store: store, KEKs: [][]byte{testKEK(t)},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetUserByEmail(ctx, "jo@xn--bcher-kva.de"); err != nil {
		t.Errorf("after start-up, the punycode form does not find the account: %v", err)
	}
	fw, _ := store.GetUserByEmail(ctx, "ann@example.com")
	if !strings.Contains(logs.String(), "normalise to another account") || !strings.Contains(logs.String(), "user_ids") {
		t.Errorf("the colliding accounts were not reported:\n%s", logs.String())
	}
	if fw.Email != "ann@example.com" {
		t.Errorf("ann@example.com now finds %q", fw.Email)
	}
}
