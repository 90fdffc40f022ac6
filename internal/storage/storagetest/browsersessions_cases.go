package storagetest

import (
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

func browserSession(id string, userID int64) storage.BrowserSession {
	return storage.BrowserSession{
		ID: id, SecretHash: "h-" + id, UserID: userID, AuthTime: t0,
		CreatedAt: t0, LastSeenAt: t0, IdleExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(10 * time.Hour),
		UserAgent: "ua", IP: "192.0.2.1",
	}
}

func normBrowserSession(s storage.BrowserSession) storage.BrowserSession {
	for _, p := range []*time.Time{&s.AuthTime, &s.CreatedAt, &s.LastSeenAt, &s.IdleExpiresAt, &s.ExpiresAt, &s.EndedAt} {
		*p = norm(*p)
	}
	return s
}

var browserSessionCases = []testCase{
	{"browser-sessions/create-get-round-trip", func(t *testing.T, s storage.Store) {
		for _, b := range []storage.BrowserSession{browserSession("s1", 7), {ID: "anon", SecretHash: "h", CreatedAt: t0, LastSeenAt: t0, IdleExpiresAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour)}} {
			wantErr(t, "create "+b.ID, s.CreateBrowserSession(ctxT(t), b), nil)
			got, err := s.GetBrowserSession(ctxT(t), b.ID)
			wantErr(t, "get "+b.ID, err, nil)
			wantEqual(t, "session "+b.ID, got, normBrowserSession(b))
		}
		wantErr(t, "duplicate", s.CreateBrowserSession(ctxT(t), browserSession("s1", 8)), storage.ErrConflict)
		_, err := s.GetBrowserSession(ctxT(t), "nope")
		wantErr(t, "get unknown", err, storage.ErrNotFound)
		_, err = s.GetBrowserSession(ctxT(t), "bad\x00")
		wantErr(t, "get invalid text", err, storage.ErrNotFound)
	}},
	{"browser-sessions/touch-slides-capped-live-only", func(t *testing.T, s storage.Store) {
		b := browserSession("s1", 7)
		wantErr(t, "create", s.CreateBrowserSession(ctxT(t), b), nil)
		at := t0.Add(30 * time.Minute)
		wantErr(t, "touch", s.TouchBrowserSession(ctxT(t), "s1", at, at.Add(time.Hour)), nil)
		got, _ := s.GetBrowserSession(ctxT(t), "s1")
		wantEqual(t, "last seen", got.LastSeenAt, norm(at))
		wantEqual(t, "idle expiry", got.IdleExpiresAt, norm(at.Add(time.Hour)))
		// capped at the absolute end
		at2 := t0.Add(9 * time.Hour)
		wantErr(t, "touch idle-expired", s.TouchBrowserSession(ctxT(t), "s1", at2, at2.Add(time.Hour)), storage.ErrNotFound)
		at2 = t0.Add(80 * time.Minute)
		wantErr(t, "touch", s.TouchBrowserSession(ctxT(t), "s1", at2, t0.Add(20*time.Hour)), nil)
		got, _ = s.GetBrowserSession(ctxT(t), "s1")
		wantEqual(t, "idle capped", got.IdleExpiresAt, norm(b.ExpiresAt))
		wantErr(t, "touch unknown", s.TouchBrowserSession(ctxT(t), "nope", at, at), storage.ErrNotFound)
		ended, err := s.EndBrowserSession(ctxT(t), "s1", at2)
		wantErr(t, "end", err, nil)
		wantEqual(t, "ended", ended, true)
		ended, err = s.EndBrowserSession(ctxT(t), "s1", at2)
		wantErr(t, "end again", err, nil)
		wantEqual(t, "ended again", ended, false)
		_, err = s.EndBrowserSession(ctxT(t), "nope", at2)
		wantErr(t, "end unknown", err, storage.ErrNotFound)
		wantErr(t, "touch ended", s.TouchBrowserSession(ctxT(t), "s1", at2, at2.Add(time.Minute)), storage.ErrNotFound)
	}},
	{"browser-sessions/end-user-and-janitor", func(t *testing.T, s storage.Store) {
		for _, b := range []storage.BrowserSession{browserSession("a", 7), browserSession("b", 7), browserSession("c", 8)} {
			wantErr(t, "create", s.CreateBrowserSession(ctxT(t), b), nil)
		}
		n, err := s.EndUserBrowserSessions(ctxT(t), 7, t0.Add(time.Minute))
		wantErr(t, "end user", err, nil)
		wantEqual(t, "ended", n, int64(2))
		n, err = s.DeleteDeadBrowserSessions(ctxT(t), t0.Add(time.Minute), 10)
		wantErr(t, "janitor", err, nil)
		wantEqual(t, "deleted", n, int64(2))
		if _, err := s.GetBrowserSession(ctxT(t), "c"); err != nil {
			t.Fatalf("live session c deleted: %v", err)
		}
		n, _ = s.DeleteDeadBrowserSessions(ctxT(t), t0.Add(2*time.Hour), 10)
		wantEqual(t, "idle-expired deleted", n, int64(1))
	}},
}
