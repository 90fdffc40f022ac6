package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// checkPermissions keeps the database private: it holds password hashes
// and sealed signing keys. The file and its -wal and -shm companions must
// not be readable or writable by group or others. A looser file is
// tightened to 0600 with a warning, or — with strict (production) —
// refused, naming the file, so that an operator learns that it may have
// been readable.
func checkPermissions(path string, strict bool, log *slog.Logger) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open SQLite: %w", err)
		}
		mode := fi.Mode().Perm()
		if mode&0o077 == 0 {
			continue
		}
		if strict {
			return fmt.Errorf("open SQLite: %s has mode %04o: it holds password hashes and keys and must not be accessible to group or others (chmod 600 %s, and check who may have read it)", p, mode, p)
		}
		if err := os.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("open SQLite: tighten %s to 0600: %w", p, err)
		}
		log.Warn("SQLite file was accessible to group or others; tightened to 0600", "path", p, "was", fmt.Sprintf("%04o", mode))
	}
	return nil
}
