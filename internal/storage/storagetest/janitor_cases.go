package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// The clock of the session-lifetime cases: sessions idle for a day or
// revoked for a week are gone.
var (
	jNow           = t0.Add(10 * 24 * time.Hour)
	jIdleCutoff    = jNow.Add(-24 * time.Hour)
	jRevokedCutoff = jNow.Add(-7 * 24 * time.Hour)
	jCleanup       = storage.FamilyCleanup{Now: jNow, IdleCutoff: jIdleCutoff, RevokedCutoff: jRevokedCutoff}
	jLive          = storage.LiveFamilies{Now: jNow, IdleCutoff: jIdleCutoff}
	jLongAgo       = t0.Add(time.Minute) // just after the families were created
)

// liveFamily is a family of userID that is live at jNow: created at
// created, used an hour ago, expiring in a day.
func liveFamily(id string, userID int64, created time.Time) storage.Family {
	f := newFamily(id, userID)
	f.CreatedAt, f.RotatedAt, f.ExpiresAt = created, jNow.Add(-time.Hour), jNow.Add(24*time.Hour)
	f.Generation, f.PreviousJTI = 3, id+"-jti-prev"
	return f
}

// with returns f changed by fn.
func with(f storage.Family, fn func(f *storage.Family)) storage.Family {
	fn(&f)
	return f
}

// Boundaries, microsecond-exact: a family expiring exactly now, or last
// used exactly at the idle cutoff, is dead; one revoked exactly at the
// revoked cutoff is past retention.
func expiredAt(at time.Time) func(*storage.Family) {
	return func(f *storage.Family) { f.ExpiresAt = at }
}

func idleSince(at time.Time) func(*storage.Family) {
	return func(f *storage.Family) { f.RotatedAt = at }
}

func revokedAt(at time.Time) func(*storage.Family) {
	return func(f *storage.Family) { f.RevokedAt, f.RevokeReason = at, "logout" }
}

func familyIDs(fs []storage.Family) []string {
	ids := []string{}
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

func mustDeleteDead(t *testing.T, s storage.Store, c storage.FamilyCleanup, limit int) int64 {
	t.Helper()
	n, err := s.DeleteDeadFamilies(ctxT(t), c, limit)
	if err != nil {
		t.Fatalf("DeleteDeadFamilies(limit %d): %v", limit, err)
	}
	return n
}

// wantFamilies fails unless exactly the families kept exist (as stored)
// and the ones gone do not.
func wantFamilies(t *testing.T, s storage.Store, kept, gone []storage.Family) {
	t.Helper()
	for _, f := range kept {
		got, err := s.GetFamily(ctxT(t), f.ID)
		if err != nil {
			t.Fatalf("family %s should have been kept: %v", f.ID, err)
		}
		wantEqual(t, "kept family "+f.ID, got, storedFamily(f))
	}
	for _, f := range gone {
		if _, err := s.GetFamily(ctxT(t), f.ID); err == nil {
			t.Fatalf("family %s should have been deleted", f.ID)
		}
	}
}

var janitorCases = []testCase{
	{"families/list-live-newest-first", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "sessions@example.com")
		other := mustCreateUser(t, s, "other@example.com")
		live := []storage.Family{
			// Newest first; equal creation times by id.
			liveFamily("new", u.ID, t0.Add(3*time.Hour)),
			liveFamily("same-a", u.ID, t0.Add(2*time.Hour)),
			liveFamily("same-b", u.ID, t0.Add(2*time.Hour)),
			with(liveFamily("expires-just-after", u.ID, t0.Add(time.Hour)), expiredAt(jNow.Add(time.Microsecond))),
			with(liveFamily("used-just-after-cutoff", u.ID, t0.Add(time.Hour)), idleSince(jIdleCutoff.Add(time.Microsecond))),
			liveFamily("old", u.ID, t0),
		}
		dead := []storage.Family{
			with(liveFamily("revoked", u.ID, t0.Add(4*time.Hour)), revokedAt(jNow.Add(-time.Minute))),
			with(liveFamily("revoked-later", u.ID, t0.Add(4*time.Hour)), revokedAt(jNow.Add(time.Minute))),
			with(liveFamily("expires-now", u.ID, t0.Add(4*time.Hour)), expiredAt(jNow)),
			with(liveFamily("expired", u.ID, t0.Add(4*time.Hour)), expiredAt(jNow.Add(-time.Hour))),
			with(liveFamily("idle-at-cutoff", u.ID, t0.Add(4*time.Hour)), idleSince(jIdleCutoff)),
			with(liveFamily("idle", u.ID, t0.Add(4*time.Hour)), idleSince(jIdleCutoff.Add(-time.Hour))),
			liveFamily("other-users", other.ID, t0.Add(5*time.Hour)),
		}
		for _, f := range append(append([]storage.Family(nil), dead...), live...) {
			mustCreateFamily(t, s, f)
		}
		got, err := s.ListLiveFamilies(ctxT(t), u.ID, jLive)
		wantErr(t, "ListLiveFamilies", err, nil)
		wantEqual(t, "live family ids", familyIDs(got), []string{"new", "same-a", "same-b", "expires-just-after", "used-just-after-cutoff", "old"})
		for i, f := range live {
			wantEqual(t, "live family "+f.ID, got[i], storedFamily(f))
		}

		for _, id := range []int64{other.ID + 1000, mustCreateUser(t, s, "none@example.com").ID} {
			got, err = s.ListLiveFamilies(ctxT(t), id, jLive)
			wantErr(t, "ListLiveFamilies of a user without families", err, nil)
			if len(got) != 0 {
				t.Fatalf("ListLiveFamilies(%d) = %v, want none", id, familyIDs(got))
			}
		}
	}},
	{"families/list-live-follows-rotation-and-revocation", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "sessions@example.com")
		idle := with(liveFamily("idle", u.ID, t0), idleSince(jIdleCutoff.Add(-time.Minute)))
		mustCreateFamily(t, s, idle)
		mustCreateFamily(t, s, liveFamily("live", u.ID, t0.Add(time.Hour)))
		list := func() []string {
			t.Helper()
			got, err := s.ListLiveFamilies(ctxT(t), u.ID, jLive)
			wantErr(t, "ListLiveFamilies", err, nil)
			return familyIDs(got)
		}
		wantEqual(t, "before", list(), []string{"live"})
		// A refresh of the idle family (the store does not check idleness,
		// its caller does) makes it live again.
		_, err := s.RotateFamily(ctxT(t), storage.Rotation{FamilyID: "idle", OldJTI: idle.CurrentJTI, NewJTI: "n", NewKID: "k", At: jNow})
		wantErr(t, "RotateFamily", err, nil)
		wantEqual(t, "after refresh", list(), []string{"live", "idle"})
		_, err = s.RevokeFamily(ctxT(t), "live", jNow, "logout")
		wantErr(t, "RevokeFamily", err, nil)
		wantEqual(t, "after logout", list(), []string{"idle"})
	}},
	{"families/delete-dead-every-criterion", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "janitor@example.com")
		f := func(id string, fns ...func(*storage.Family)) storage.Family {
			fam := liveFamily(id, u.ID, t0)
			for _, fn := range fns {
				fn(&fam)
			}
			return fam
		}
		dead := []storage.Family{
			f("expires-now", expiredAt(jNow)),
			f("expired-long-ago", expiredAt(jLongAgo)),
			f("idle-at-cutoff", idleSince(jIdleCutoff)),
			f("idle-long", idleSince(jLongAgo)),
			f("expired-and-idle", expiredAt(jNow.Add(-time.Hour)), idleSince(jLongAgo)),
			f("revoked-at-cutoff", revokedAt(jRevokedCutoff)),
			f("revoked-long-ago-still-unexpired", revokedAt(jLongAgo)),
		}
		kept := []storage.Family{
			f("live"),
			f("expires-just-after", expiredAt(jNow.Add(time.Microsecond))),
			f("used-just-after-cutoff", idleSince(jIdleCutoff.Add(time.Microsecond))),
			// Revoked families are kept for the retention period even when
			// their lifetimes are over (reuse detection, audit).
			f("revoked-just-after-cutoff", revokedAt(jRevokedCutoff.Add(time.Microsecond))),
			f("revoked-recently-expired-and-idle", revokedAt(jNow.Add(-time.Hour)), expiredAt(jLongAgo), idleSince(jLongAgo)),
		}
		for _, fam := range append(append([]storage.Family(nil), dead...), kept...) {
			mustCreateFamily(t, s, fam)
		}
		if n := mustDeleteDead(t, s, jCleanup, 100); n != int64(len(dead)) {
			t.Fatalf("DeleteDeadFamilies deleted %d, want %d", n, len(dead))
		}
		wantFamilies(t, s, kept, dead)
		if n := mustDeleteDead(t, s, jCleanup, 100); n != 0 {
			t.Fatalf("second DeleteDeadFamilies deleted %d, want 0", n)
		}
		wantFamilies(t, s, kept, nil)
	}},
	{"families/delete-dead-respects-limit", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "janitor@example.com")
		var dead, kept []storage.Family
		crit := []func(*storage.Family){expiredAt(jNow.Add(-time.Hour)), idleSince(jIdleCutoff.Add(-time.Hour)), revokedAt(jRevokedCutoff.Add(-time.Hour))}
		for i := range 8 {
			dead = append(dead, with(liveFamily(fmt.Sprintf("dead-%d", i), u.ID, t0), crit[i%len(crit)]))
			kept = append(kept, liveFamily(fmt.Sprintf("live-%d", i), u.ID, t0))
		}
		for _, fam := range append(append([]storage.Family(nil), dead...), kept...) {
			mustCreateFamily(t, s, fam)
		}
		for _, limit := range []int{0, -1} {
			if n := mustDeleteDead(t, s, jCleanup, limit); n != 0 {
				t.Fatalf("DeleteDeadFamilies(limit %d) deleted %d, want 0", limit, n)
			}
		}
		wantFamilies(t, s, append(append([]storage.Family(nil), dead...), kept...), nil)
		var got []int64
		for range 5 {
			got = append(got, mustDeleteDead(t, s, jCleanup, 3))
		}
		wantEqual(t, "deleted per call (limit 3)", got, []int64{3, 3, 2, 0, 0})
		wantFamilies(t, s, kept, dead)
	}},
	{"families/delete-dead-short-batch-means-done", func(t *testing.T, s storage.Store) {
		// Families dead by several criteria count once towards the limit:
		// a batch deleting fewer than the limit must leave none behind.
		u := mustCreateUser(t, s, "janitor@example.com")
		both := func(id string) storage.Family {
			return with(with(liveFamily(id, u.ID, t0), expiredAt(jNow.Add(-time.Hour))), idleSince(jIdleCutoff.Add(-time.Hour)))
		}
		dead := []storage.Family{
			both("expired-and-idle-1"),
			both("expired-and-idle-2"),
			with(liveFamily("idle-only", u.ID, t0), idleSince(jIdleCutoff.Add(-time.Minute))),
			with(both("revoked-expired-and-idle"), revokedAt(jRevokedCutoff.Add(-time.Hour))),
		}
		for _, fam := range dead {
			mustCreateFamily(t, s, fam)
		}
		var got []int64
		for range 3 {
			got = append(got, mustDeleteDead(t, s, jCleanup, 5))
		}
		wantEqual(t, "deleted per call (limit 5)", got, []int64{4, 0, 0})
		for _, fam := range dead {
			mustCreateFamily(t, s, fam)
		}
		got = got[:0]
		for range 3 {
			got = append(got, mustDeleteDead(t, s, jCleanup, 3))
		}
		wantEqual(t, "deleted per call (limit 3)", got, []int64{3, 1, 0})
		wantFamilies(t, s, nil, dead)
	}},
	{"families/delete-dead-with-user-and-after-delete-user", func(t *testing.T, s storage.Store) {
		// Deleting a user cascades to its families; the janitor then finds
		// nothing of them, and another user's families are untouched.
		u := mustCreateUser(t, s, "gone@example.com")
		v := mustCreateUser(t, s, "stays@example.com")
		mustCreateFamily(t, s, with(liveFamily("u-expired", u.ID, t0), expiredAt(jLongAgo)))
		vDead := with(liveFamily("v-expired", v.ID, t0), expiredAt(jLongAgo))
		vLive := liveFamily("v-live", v.ID, t0)
		mustCreateFamily(t, s, vDead)
		mustCreateFamily(t, s, vLive)
		wantErr(t, "DeleteUser", s.DeleteUser(ctxT(t), u.ID), nil)
		if n := mustDeleteDead(t, s, jCleanup, 10); n != 1 {
			t.Fatalf("DeleteDeadFamilies deleted %d, want 1", n)
		}
		wantFamilies(t, s, []storage.Family{vLive}, []storage.Family{vDead})
	}},
}
