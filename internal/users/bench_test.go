package users

import (
	"log/slog"
	"testing"

	"github.com/idp/idp/internal/storage/storagetest"
)

// BenchmarkAuthenticate is a whole login with the default (OWASP)
// parameters on SQLite: lookup, argon2id verification, last-login write.
func BenchmarkAuthenticate(b *testing.B) {
	store := storagetest.SQLite(b)
	s, err := New(Options{Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Register(b.Context(), alice()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Authenticate(b.Context(), "alice@example.com", "s3cret-pass"); err != nil {
			b.Fatal(err)
		}
	}
}
