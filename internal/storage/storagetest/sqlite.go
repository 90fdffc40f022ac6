package storagetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/sqlite"
)

// SQLite returns a fresh, migrated SQLite store in t.TempDir(), closed at
// cleanup.
func SQLite(t testing.TB) storage.Store {
	t.Helper()
	return OpenSQLite(t, filepath.Join(t.TempDir(), "idp.db"))
}

// OpenSQLite opens and migrates the SQLite store at path (for tests that
// reopen one file), closing it at cleanup.
func OpenSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storagetest: close SQLite: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	return s
}
