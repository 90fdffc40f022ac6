package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// cliStore gives the test a sandbox whose configuration points the CLI at
// a fresh store of the backend, and returns that store opened beside it
// (the CLI opens its own).
func cliStore(t *testing.T, backend string) storage.Store {
	t.Helper()
	dir := sandbox(t)
	switch backend {
	case "sqlite":
		return storagetest.OpenSQLite(t, filepath.Join(dir, "data", "idp.db"))
	case "postgres":
		url := storagetest.PostgresURL(t)
		t.Setenv("IDP_DATABASE_URL", url)
		return storagetest.OpenPostgres(t, url)
	}
	t.Fatalf("backend %q", backend)
	return nil
}

var backends = []string{"sqlite", "postgres"}

func mustUser(t *testing.T, s storage.Store, email string) storage.User {
	t.Helper()
	now := time.Now().UTC()
	u, err := s.CreateUser(context.Background(), storage.User{Email: email, Name: "U", PasswordHash: "!unusable",
		IsActive: true, DateJoined: now, PasswordChangedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// family is a session of u: created at created, last used at used, ending
// at end, revoked at revoked (zero: live).
func family(id string, u storage.User, created, used, end, revoked time.Time) storage.Family {
	f := storage.Family{ID: id, UserID: u.ID, CreatedAt: created, ExpiresAt: end, CurrentJTI: id + "-jti", CurrentKID: "kid",
		RotatedAt: used, UserAgent: "test", IP: "192.0.2.1"}
	if !revoked.IsZero() {
		f.RevokedAt, f.RevokeReason = revoked, "logout"
	}
	return f
}

func TestTokensFlush(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		// gone: the families the flush deletes (the rest stay)
		gone []string
		out  string
	}{
		{"defaults", nil, []string{"expired", "idle", "revoked-8-days-ago"},
			"deleted 3 dead sessions and 1 stale login-throttle entries\n"},
		{"short-retention", map[string]string{"IDP_TOKENS_REVOKED_RETENTION": "30m"}, []string{"expired", "idle", "revoked-8-days-ago", "revoked-an-hour-ago"},
			"deleted 4 dead sessions and 1 stale login-throttle entries\n"},
		{"batches-of-one", map[string]string{"IDP_TOKENS_FLUSH_BATCH": "1"}, []string{"expired", "idle", "revoked-8-days-ago"},
			"deleted 3 dead sessions and 1 stale login-throttle entries\n"},
	}
	for _, backend := range backends {
		for _, tc := range cases {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				s := cliStore(t, backend)
				for k, v := range tc.env {
					t.Setenv(k, v)
				}
				ctx := context.Background()
				u := mustUser(t, s, "flush@example.com")
				now := time.Now().UTC().Truncate(time.Second)
				day := 24 * time.Hour
				fams := []storage.Family{
					family("live", u, now.Add(-2*day), now.Add(-time.Hour), now.Add(28*day), time.Time{}),
					family("expired", u, now.Add(-31*day), now.Add(-time.Hour), now.Add(-day), time.Time{}),
					family("idle", u, now.Add(-3*day), now.Add(-25*time.Hour), now.Add(27*day), time.Time{}),
					family("revoked-8-days-ago", u, now.Add(-9*day), now.Add(-9*day), now.Add(21*day), now.Add(-8*day)),
					family("revoked-an-hour-ago", u, now.Add(-2*day), now.Add(-2*time.Hour), now.Add(28*day), now.Add(-time.Hour)),
				}
				for _, f := range fams {
					if err := s.CreateFamily(ctx, f); err != nil {
						t.Fatal(err)
					}
				}
				// One throttle key whose 15-minute window is long over, one
				// in its window.
				if _, err := s.AddFailure(ctx, "stale", now.Add(-time.Hour), 15*time.Minute); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddFailure(ctx, "fresh", now, 15*time.Minute); err != nil {
					t.Fatal(err)
				}

				r := idp(t, nil, "tokens", "flush").mustSucceed(t)
				if r.stdout != tc.out {
					t.Errorf("stdout %q, want %q", r.stdout, tc.out)
				}
				for _, f := range fams {
					_, err := s.GetFamily(ctx, f.ID)
					switch gone := slices.Contains(tc.gone, f.ID); {
					case gone && !errors.Is(err, storage.ErrNotFound):
						t.Errorf("%s: still stored (%v)", f.ID, err)
					case !gone && err != nil:
						t.Errorf("%s: %v", f.ID, err)
					}
				}
				if th, err := s.GetThrottles(ctx, []string{"stale", "fresh"}); err != nil || len(th) != 1 || th[0].Key != "fresh" {
					t.Errorf("throttles after flush: %+v, %v", th, err)
				}
				r = idp(t, nil, "tokens", "flush").mustSucceed(t)
				if r.stdout != "deleted 0 dead sessions and 0 stale login-throttle entries\n" {
					t.Errorf("second flush: %q", r.stdout)
				}
			})
		}
	}
}

func TestTokensFlushRefusesArguments(t *testing.T) {
	sandbox(t)
	r := idp(t, nil, "tokens", "flush", "now")
	if r.err == nil || !strings.Contains(r.err.Error(), "unknown command") && !strings.Contains(r.err.Error(), "accepts 0 arg") {
		t.Fatalf("err %v, want an argument error", r.err)
	}
}

func TestTokensFlushBadConfig(t *testing.T) {
	sandbox(t)
	t.Setenv("IDP_TOKENS_FLUSH_BATCH", "0")
	r := idp(t, nil, "tokens", "flush")
	if r.err == nil || !strings.Contains(r.err.Error(), "tokens.flush_batch") {
		t.Fatalf("err %v, want the flush_batch problem", r.err)
	}
}
