package storagetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// testCase is one named conformance case; it gets a fresh, migrated store.
type testCase struct {
	name string
	fn   func(t *testing.T, s storage.Store)
}

// Run is the conformance suite: every storage.Store method and sentinel,
// and the races the interfaces promise to settle. Each case runs as a
// subtest on a fresh store from open, which must return it migrated and
// close it at cleanup. Backends call it from their own tests.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	groups := [][]testCase{storeCases, userCases, keyCases, familyCases, janitorCases, throttleCases, auditCases, revocationCases, textCases, concurrencyCases, userImportCases, clientCases, browserSessionCases, oidcCases, adminCases, adminConcurrencyCases}
	for _, cases := range groups {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
		}
	}
}

// t0 has nanoseconds and a non-UTC zone: stores must return it as
// norm(t0), in UTC truncated to the microsecond.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+1", 3600))

// norm is what a store returns for t.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func ctxT(t *testing.T) context.Context { return t.Context() }

// wantErr fails unless errors.Is(err, want) (want nil: err must be nil).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error: %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// wantEqual fails unless got and want are deeply equal.
func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

var storeCases = []testCase{
	{"store/ping", func(t *testing.T, s storage.Store) {
		wantErr(t, "Ping", s.Ping(ctxT(t)), nil)
	}},
	{"store/backend-name", func(t *testing.T, s storage.Store) {
		if b := s.Backend(); b != "sqlite" && b != "postgres" {
			t.Fatalf("Backend() = %q, want sqlite or postgres", b)
		}
	}},
	{"store/migrate-idempotent", func(t *testing.T, s storage.Store) {
		m, ok := s.(interface{ Migrate(context.Context) error })
		if !ok {
			t.Fatalf("%T has no Migrate method", s)
		}
		u := mustCreateUser(t, s, "keep@example.com")
		wantErr(t, "second Migrate", m.Migrate(ctxT(t)), nil)
		got, err := s.GetUser(ctxT(t), u.ID)
		wantErr(t, "GetUser after Migrate", err, nil)
		wantEqual(t, "user after Migrate", got, u)
	}},
	{"store/version", func(t *testing.T, s storage.Store) {
		v, ok := s.(interface {
			Version(context.Context) (int64, error)
		})
		if !ok {
			t.Fatalf("%T has no Version method", s)
		}
		got, err := v.Version(ctxT(t))
		wantErr(t, "Version", err, nil)
		if got < 1 {
			t.Fatalf("Version() = %d after Migrate, want ≥ 1", got)
		}
	}},
}
