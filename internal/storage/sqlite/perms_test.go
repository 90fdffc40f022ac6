package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp/idp/internal/storage/sqlite"
)

// TestLoosePermissions (item 10): a pre-existing database (and -wal,
// -shm) with mode 0644 is tightened to 0600 at open in development, and
// refused with the file named in production.
func TestLoosePermissions(t *testing.T) {
	ctx := context.Background()
	// Files left behind with a loose mode (empty: a new database and
	// empty WAL files, which SQLite accepts).
	prepare := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "idp.db")
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o644); err != nil { // whatever the umask
				t.Fatal(err)
			}
		}
		return path
	}
	t.Run("development/tightened", func(t *testing.T) {
		path := prepare(t)
		s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s mode %04o after open, want 0600", filepath.Base(p), perm)
			}
		}
	})
	t.Run("production/refused-naming-the-file", func(t *testing.T) {
		path := prepare(t)
		s, err := sqlite.Open(ctx, sqlite.Options{Path: path, StrictPermissions: true})
		if err == nil {
			s.Close()
			t.Fatal("a 0644 database was opened in production")
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "0644") {
			t.Errorf("error %q does not name the file and its mode", err)
		}
	})
}
