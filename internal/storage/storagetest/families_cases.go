package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

func newFamily(id string, userID int64) storage.Family {
	return storage.Family{
		ID:         id,
		UserID:     userID,
		CreatedAt:  t0,
		ExpiresAt:  t0.Add(24 * time.Hour),
		CurrentJTI: id + "-jti-0",
		CurrentKID: "kid-1",
		RotatedAt:  t0,
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) ünïcode",
		IP:         "2001:db8::1",
	}
}

// storedFamily is f as the store returns it.
func storedFamily(f storage.Family) storage.Family {
	for _, t := range []*time.Time{&f.CreatedAt, &f.ExpiresAt, &f.RotatedAt, &f.RevokedAt} {
		*t = norm(*t)
	}
	return f
}

// mustCreateFamily creates f and returns it as stored.
func mustCreateFamily(t *testing.T, s storage.Store, f storage.Family) storage.Family {
	t.Helper()
	if err := s.CreateFamily(ctxT(t), f); err != nil {
		t.Fatalf("CreateFamily(%s): %v", f.ID, err)
	}
	return storedFamily(f)
}

func mustGetFamily(t *testing.T, s storage.Store, id string) storage.Family {
	t.Helper()
	f, err := s.GetFamily(ctxT(t), id)
	if err != nil {
		t.Fatalf("GetFamily(%s): %v", id, err)
	}
	return f
}

// userWithFamily creates a user and one live family "fam".
func userWithFamily(t *testing.T, s storage.Store) storage.Family {
	t.Helper()
	u := mustCreateUser(t, s, "fam@example.com")
	return mustCreateFamily(t, s, newFamily("fam", u.ID))
}

var familyCases = []testCase{
	{"families/create-get", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "fam@example.com")
		f := newFamily("fam", u.ID)
		f.Generation, f.PreviousJTI = 7, "older"
		f.RotatedAt = t0.Add(time.Minute + time.Nanosecond)
		f.RevokedAt, f.RevokeReason = t0.Add(2*time.Minute), "logout"
		want := mustCreateFamily(t, s, f)
		wantEqual(t, "GetFamily", mustGetFamily(t, s, "fam"), want)
		bare := mustCreateFamily(t, s, storage.Family{ID: "bare", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
			CurrentJTI: "j", CurrentKID: "k", RotatedAt: t0})
		wantEqual(t, "GetFamily bare", mustGetFamily(t, s, "bare"), bare)
	}},
	{"families/create-duplicate-id-conflicts", func(t *testing.T, s storage.Store) {
		f := userWithFamily(t, s)
		dup := newFamily("fam", f.UserID)
		dup.CurrentJTI = "other"
		wantErr(t, "CreateFamily duplicate", s.CreateFamily(ctxT(t), dup), storage.ErrConflict)
		wantEqual(t, "family", mustGetFamily(t, s, "fam"), f)
	}},
	{"families/create-for-missing-user-not-found", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "x@example.com")
		wantErr(t, "CreateFamily", s.CreateFamily(ctxT(t), newFamily("orphan", u.ID+1000)), storage.ErrNotFound)
		_, err := s.GetFamily(ctxT(t), "orphan")
		wantErr(t, "GetFamily", err, storage.ErrNotFound)
	}},
	{"families/get-missing-not-found", func(t *testing.T, s storage.Store) {
		_, err := s.GetFamily(ctxT(t), "nope")
		wantErr(t, "GetFamily", err, storage.ErrNotFound)
	}},
	{"families/rotate-success-chain", func(t *testing.T, s storage.Store) {
		f := userWithFamily(t, s)
		want := f
		old := f.CurrentJTI
		for gen := int64(1); gen <= 3; gen++ {
			at := t0.Add(time.Duration(gen)*time.Minute + 789*time.Nanosecond)
			r := storage.Rotation{FamilyID: "fam", OldJTI: old, NewJTI: fmt.Sprintf("jti-%d", gen), NewKID: "kid-2", At: at}
			got, err := s.RotateFamily(ctxT(t), r)
			wantErr(t, "RotateFamily", err, nil)
			want.PreviousJTI, want.CurrentJTI, want.CurrentKID = old, r.NewJTI, r.NewKID
			want.Generation, want.RotatedAt = gen, norm(at)
			wantEqual(t, "rotated family", got, want)
			wantEqual(t, "GetFamily after rotation", mustGetFamily(t, s, "fam"), want)
			old = r.NewJTI
		}
	}},
	{"families/rotate-refused-changes-nothing", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "fam@example.com")
		live := newFamily("live", u.ID)
		revoked := newFamily("revoked", u.ID)
		revoked.RevokedAt, revoked.RevokeReason = t0.Add(time.Minute), "logout"
		rotated := newFamily("rotated", u.ID)
		rotated.CurrentJTI, rotated.PreviousJTI, rotated.Generation = "rotated-jti-1", "rotated-jti-0", 1
		for _, f := range []storage.Family{live, revoked, rotated} {
			mustCreateFamily(t, s, f)
		}
		soon := t0.Add(time.Minute)
		cases := []struct {
			name string
			r    storage.Rotation
		}{
			{"wrong-old-jti", storage.Rotation{FamilyID: "live", OldJTI: "not-the-jti", NewJTI: "n", NewKID: "k", At: soon}},
			{"previous-jti-reused", storage.Rotation{FamilyID: "rotated", OldJTI: "rotated-jti-0", NewJTI: "n", NewKID: "k", At: soon}},
			{"revoked", storage.Rotation{FamilyID: "revoked", OldJTI: revoked.CurrentJTI, NewJTI: "n", NewKID: "k", At: soon}},
			{"expired-exactly-at-expiry", storage.Rotation{FamilyID: "live", OldJTI: live.CurrentJTI, NewJTI: "n", NewKID: "k", At: live.ExpiresAt}},
			{"expired-after-expiry", storage.Rotation{FamilyID: "live", OldJTI: live.CurrentJTI, NewJTI: "n", NewKID: "k", At: live.ExpiresAt.Add(time.Hour)}},
			{"missing-family", storage.Rotation{FamilyID: "ghost", OldJTI: "ghost-jti-0", NewJTI: "n", NewKID: "k", At: soon}},
		}
		for _, tc := range cases {
			_, err := s.RotateFamily(ctxT(t), tc.r)
			wantErr(t, tc.name+": RotateFamily", err, storage.ErrNotFound)
		}
		wantEqual(t, "live", mustGetFamily(t, s, "live"), storedFamily(live))
		wantEqual(t, "revoked", mustGetFamily(t, s, "revoked"), storedFamily(revoked))
		wantEqual(t, "rotated", mustGetFamily(t, s, "rotated"), storedFamily(rotated))
	}},
	{"families/rotate-just-before-expiry", func(t *testing.T, s storage.Store) {
		f := userWithFamily(t, s)
		// One microsecond before the end: the stores compare exactly.
		at := f.ExpiresAt.Add(-time.Microsecond)
		got, err := s.RotateFamily(ctxT(t), storage.Rotation{FamilyID: "fam", OldJTI: f.CurrentJTI, NewJTI: "n", NewKID: "k", At: at})
		wantErr(t, "RotateFamily", err, nil)
		if got.Generation != 1 || !got.RotatedAt.Equal(at) {
			t.Fatalf("rotated family = %+v", got)
		}
	}},
	{"families/revoke-once", func(t *testing.T, s storage.Store) {
		f := userWithFamily(t, s)
		at := t0.Add(time.Hour + 555*time.Nanosecond)
		ok, err := s.RevokeFamily(ctxT(t), "fam", at, "logout")
		wantErr(t, "RevokeFamily", err, nil)
		if !ok {
			t.Fatalf("first RevokeFamily reported false")
		}
		want := f
		want.RevokedAt, want.RevokeReason = norm(at), "logout"
		wantEqual(t, "after revoke", mustGetFamily(t, s, "fam"), want)

		ok, err = s.RevokeFamily(ctxT(t), "fam", at.Add(time.Hour), "reuse")
		wantErr(t, "second RevokeFamily", err, nil)
		if ok {
			t.Fatalf("second RevokeFamily reported true")
		}
		wantEqual(t, "after second revoke (first one kept)", mustGetFamily(t, s, "fam"), want)
	}},
	{"families/revoke-missing-not-found", func(t *testing.T, s storage.Store) {
		_, err := s.RevokeFamily(ctxT(t), "ghost", t0, "logout")
		wantErr(t, "RevokeFamily", err, storage.ErrNotFound)
	}},
	{"families/revoke-by-kid", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "bykid@example.com")
		signed := newFamily("k1", u.ID)
		signed.CurrentKID = "compromised"
		signed = mustCreateFamily(t, s, signed)
		done := newFamily("k0", u.ID)
		done.CurrentKID = "compromised"
		done.RevokedAt, done.RevokeReason = t0.Add(time.Minute), "logout"
		done = mustCreateFamily(t, s, done)
		other := mustCreateFamily(t, s, newFamily("k2", u.ID)) // kid-1

		at := t0.Add(time.Hour)
		n, err := s.RevokeFamiliesByKID(ctxT(t), "compromised", at, "signing_key_revoked")
		wantErr(t, "RevokeFamiliesByKID", err, nil)
		if n != 1 {
			t.Fatalf("RevokeFamiliesByKID revoked %d, want 1", n)
		}
		signed.RevokedAt, signed.RevokeReason = norm(at), "signing_key_revoked"
		wantEqual(t, "revoked k1", mustGetFamily(t, s, "k1"), signed)
		wantEqual(t, "already revoked k0", mustGetFamily(t, s, "k0"), done)
		wantEqual(t, "other key's k2", mustGetFamily(t, s, "k2"), other)
		if n, err := s.RevokeFamiliesByKID(ctxT(t), "compromised", at, "again"); err != nil || n != 0 {
			t.Fatalf("second RevokeFamiliesByKID: %d, %v; want 0", n, err)
		}
	}},
	{"families/revoke-user-families", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "many@example.com")
		other := mustCreateUser(t, s, "other@example.com")
		lonely := mustCreateUser(t, s, "lonely@example.com")
		var live []storage.Family
		for _, id := range []string{"f1", "f2"} {
			live = append(live, mustCreateFamily(t, s, newFamily(id, u.ID)))
		}
		old := newFamily("f0", u.ID)
		old.RevokedAt, old.RevokeReason = t0.Add(time.Minute), "logout"
		old = mustCreateFamily(t, s, old)
		others := mustCreateFamily(t, s, newFamily("g1", other.ID))

		at := t0.Add(time.Hour)
		n, err := s.RevokeUserFamilies(ctxT(t), u.ID, at, "password changed")
		wantErr(t, "RevokeUserFamilies", err, nil)
		if n != 2 {
			t.Fatalf("RevokeUserFamilies revoked %d, want 2", n)
		}
		for _, f := range live {
			f.RevokedAt, f.RevokeReason = norm(at), "password changed"
			wantEqual(t, "revoked "+f.ID, mustGetFamily(t, s, f.ID), f)
		}
		wantEqual(t, "already revoked f0", mustGetFamily(t, s, "f0"), old)
		wantEqual(t, "other user's g1", mustGetFamily(t, s, "g1"), others)

		n, err = s.RevokeUserFamilies(ctxT(t), u.ID, at, "again")
		wantErr(t, "RevokeUserFamilies again", err, nil)
		if n != 0 {
			t.Fatalf("second RevokeUserFamilies revoked %d, want 0", n)
		}
		n, err = s.RevokeUserFamilies(ctxT(t), lonely.ID, at, "x")
		wantErr(t, "RevokeUserFamilies of user without families", err, nil)
		if n != 0 {
			t.Fatalf("RevokeUserFamilies of user without families = %d", n)
		}
	}},
}
