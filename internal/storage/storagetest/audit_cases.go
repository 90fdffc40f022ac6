package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

func mustListAudit(t *testing.T, s storage.Store, after int64, limit int) []storage.AuditEvent {
	t.Helper()
	es, err := s.ListAudit(ctxT(t), after, limit)
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	return es
}

var auditCases = []testCase{
	{"audit/record-list-round-trip", func(t *testing.T, s storage.Store) {
		full := storage.AuditEvent{At: t0.Add(123 * time.Nanosecond), Type: "login.succeeded", UserID: 42,
			FamilyID: "fam", KID: "kid", IP: "192.0.2.1", UserAgent: "curl/8", Detail: "détail"}
		bare := storage.AuditEvent{At: t0.Add(time.Second), Type: "key.rotated"}
		for _, e := range []storage.AuditEvent{full, bare} {
			wantErr(t, "RecordAudit", s.RecordAudit(ctxT(t), e), nil)
		}
		got := mustListAudit(t, s, 0, 10)
		if len(got) != 2 || got[0].ID <= 0 || got[1].ID <= got[0].ID {
			t.Fatalf("ListAudit = %+v, want 2 events with increasing ids", got)
		}
		full.ID, full.At = got[0].ID, norm(full.At)
		bare.ID, bare.At = got[1].ID, norm(bare.At)
		wantEqual(t, "events", got, []storage.AuditEvent{full, bare})
	}},
	{"audit/list-paging", func(t *testing.T, s storage.Store) {
		for i := range 5 {
			wantErr(t, "RecordAudit", s.RecordAudit(ctxT(t), storage.AuditEvent{At: t0, Type: fmt.Sprintf("e%d", i)}), nil)
		}
		all := mustListAudit(t, s, 0, 100)
		if len(all) != 5 {
			t.Fatalf("ListAudit = %d events, want 5", len(all))
		}
		for i, e := range all {
			if e.Type != fmt.Sprintf("e%d", i) {
				t.Fatalf("event %d is %q: not in id order", i, e.Type)
			}
		}
		wantEqual(t, "page 1", mustListAudit(t, s, 0, 2), all[0:2])
		wantEqual(t, "page 2", mustListAudit(t, s, all[1].ID, 2), all[2:4])
		wantEqual(t, "page 3", mustListAudit(t, s, all[3].ID, 2), all[4:5])
		if got := mustListAudit(t, s, all[4].ID, 2); len(got) != 0 {
			t.Fatalf("page after the last = %+v", got)
		}
		if got := mustListAudit(t, s, 0, 0); len(got) != 0 {
			t.Fatalf("limit 0 = %+v", got)
		}
	}},
	{"audit/outlives-user", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "gone@example.com")
		wantErr(t, "RecordAudit", s.RecordAudit(ctxT(t), storage.AuditEvent{At: t0, Type: "user.deleted", UserID: u.ID}), nil)
		wantErr(t, "DeleteUser", s.DeleteUser(ctxT(t), u.ID), nil)
		got := mustListAudit(t, s, 0, 10)
		if len(got) != 1 || got[0].UserID != u.ID {
			t.Fatalf("events after deleting the user = %+v", got)
		}
	}},
}
