package users

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// cheapParams keep tests fast; one test checks the real defaults.
var cheapParams = Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestService returns a Service with cheap hashing over store (a fresh
// SQLite store if nil).
func newTestService(t testing.TB, store storage.Users, mutate ...func(*Options)) (*Service, *fakeClock) {
	t.Helper()
	if store == nil {
		store = storagetest.SQLite(t)
	}
	clock := newFakeClock()
	opts := Options{Store: store, Argon2: cheapParams, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, clock
}

// newPolicyService is a Service for validation-only tests (no I/O).
func newPolicyService(t testing.TB) *Service {
	t.Helper()
	s, _ := newTestService(t, nilUsers{})
	return s
}

// nilUsers is a storage.Users for tests that must not touch storage.
type nilUsers struct{ storage.Users }

type lockedWriter struct {
	w  *strings.Builder
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newTestLogger(w *strings.Builder, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{w, mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
