package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Recent revocations (the session check of every instance) and audit
// retention.
var revocationCases = []testCase{
	{"revocations/since-ordered-limited", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "rev@example.com")
		for i := range 4 {
			wantErr(t, "CreateFamily", s.CreateFamily(ctxT(t), newFamily(fmt.Sprintf("fam-%d", i), u.ID)), nil)
		}
		// fam-3 revoked first, then fam-1, then fam-2; fam-0 stays live.
		for i, id := range []string{"fam-3", "fam-1", "fam-2"} {
			if _, err := s.RevokeFamily(ctxT(t), id, t0.Add(time.Duration(i+1)*time.Second), "logout"); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.RevokedFamiliesSince(ctxT(t), t0.Add(2*time.Second), 10)
		wantErr(t, "RevokedFamiliesSince", err, nil)
		wantEqual(t, "since t0+2s (inclusive)", got, []storage.RevokedFamily{
			{ID: "fam-1", RevokedAt: norm(t0.Add(2 * time.Second))},
			{ID: "fam-2", RevokedAt: norm(t0.Add(3 * time.Second))},
		})
		got, err = s.RevokedFamiliesSince(ctxT(t), t0, 1)
		wantErr(t, "RevokedFamiliesSince", err, nil)
		wantEqual(t, "limit 1: the oldest", got, []storage.RevokedFamily{{ID: "fam-3", RevokedAt: norm(t0.Add(time.Second))}})
		got, err = s.RevokedFamiliesSince(ctxT(t), t0.Add(time.Hour), 10)
		wantErr(t, "RevokedFamiliesSince", err, nil)
		wantEqual(t, "none later", got, []storage.RevokedFamily{})
		n, err := s.RevokeUserFamilies(ctxT(t), u.ID, t0.Add(2*time.Hour), "logout_all")
		if err != nil || n != 1 {
			t.Fatalf("RevokeUserFamilies = %d, %v", n, err)
		}
		got, _ = s.RevokedFamiliesSince(ctxT(t), t0.Add(time.Hour), 10)
		wantEqual(t, "revoked by user", got, []storage.RevokedFamily{{ID: "fam-0", RevokedAt: norm(t0.Add(2 * time.Hour))}})
	}},
	{"audit/delete-before-in-batches", func(t *testing.T, s storage.Store) {
		for i := range 5 {
			wantErr(t, "RecordAudit", s.RecordAudit(ctxT(t), storage.AuditEvent{At: t0.Add(time.Duration(i) * time.Hour), Type: fmt.Sprintf("e%d", i)}), nil)
		}
		n, err := s.DeleteAuditBefore(ctxT(t), t0.Add(3*time.Hour), 2)
		if err != nil || n != 2 {
			t.Fatalf("first batch = %d, %v; want 2", n, err)
		}
		n, err = s.DeleteAuditBefore(ctxT(t), t0.Add(3*time.Hour), 2)
		if err != nil || n != 1 {
			t.Fatalf("second batch = %d, %v; want 1 (e2; e3 is at the cutoff)", n, err)
		}
		left := mustListAudit(t, s, 0, 10)
		if len(left) != 2 || left[0].Type != "e3" || left[1].Type != "e4" {
			t.Fatalf("left %+v, want e3 and e4", left)
		}
		if n, err := s.DeleteAuditBefore(ctxT(t), t0.Add(3*time.Hour), 0); err != nil || n != 0 {
			t.Fatalf("limit 0 = %d, %v", n, err)
		}
	}},
}
