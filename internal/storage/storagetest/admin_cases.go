package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/idp/idp/internal/storage"
)

func ptr[T any](v T) *T { return &v }

func mustSearch(t *testing.T, s storage.Store, q storage.UserQuery) []int64 {
	t.Helper()
	ids := []int64{}
	for _, u := range mustSearchListed(t, s, q) {
		ids = append(ids, u.ID)
	}
	return ids
}

func mustSearchListed(t *testing.T, s storage.Store, q storage.UserQuery) []storage.ListedUser {
	t.Helper()
	us, err := s.SearchUsers(ctxT(t), q)
	wantErr(t, "SearchUsers", err, nil)
	for _, u := range us {
		if u.Position.ID != u.ID || u.Position.EmailKey != storage.EmailKey(u.Email) {
			t.Fatalf("SearchUsers: user %d (%s) listed at %+v", u.ID, u.Email, u.Position)
		}
	}
	return us
}

// after is the cursor of a search by q resuming after the user with that
// email (LoadUsers' keys are their emails).
func after(email string) storage.UserPosition { return storage.UserPosition{EmailKey: email} }

var adminCases = []testCase{
	{"admin/search-beyond-the-window", func(t *testing.T, s storage.Store) {
		LoadUsers(t, s, 2600) // ids 1000…3599 in email order; the name window is 2000 users
		for _, tc := range []struct {
			name string
			q    storage.UserQuery
			want []int64
		}{
			{"all-after-window", storage.UserQuery{Q: "user0025", Limit: 3}, []int64{3500, 3501, 3502}},
			{"both-steps", storage.UserQuery{Q: "staff 25", Limit: 5}, []int64{1250, 3500, 3510, 3520, 3530}},
			{"both-steps-keyset", storage.UserQuery{Q: "staff 25", After: after("user002510@example.com"), Limit: 2}, []int64{3520, 3530}},
			{"email-range-keyset", storage.UserQuery{Q: "user0025", After: after("user002597@example.com"), Limit: 3}, []int64{3598, 3599}},
			{"cursor-past-range", storage.UserQuery{Q: "user0025", After: after("user0026"), Limit: 3}, []int64{}},
			{"cursor-before-range", storage.UserQuery{Q: "user0025", After: after("user0024"), Limit: 1}, []int64{3500}},
			{"window-fills-page", storage.UserQuery{Q: "person", Limit: 2}, []int64{1001, 1002}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantEqual(t, "ids", mustSearch(t, s, tc.q), tc.want)
			})
		}
	}},
	{"admin/search-users", func(t *testing.T, s storage.Store) {
		au := newUser("alice@example.com")
		au.Name = "Alice"
		a, err := s.CreateUser(ctxT(t), au)
		wantErr(t, "CreateUser", err, nil)
		b := newUser("Bob@Example.com")
		b.Name, b.IsStaff = "Bobby 100%_x", true
		bb, err := s.CreateUser(ctxT(t), b)
		wantErr(t, "CreateUser", err, nil)
		c := newUser("carol@example.org")
		c.IsActive, c.Name = false, "Carol"
		cc, err := s.CreateUser(ctxT(t), c)
		wantErr(t, "CreateUser", err, nil)
		d := newUser("dora@example.net")
		d.Name = `Dörte "the" ärger`
		dd, err := s.CreateUser(ctxT(t), d)
		wantErr(t, "CreateUser", err, nil)
		for _, tc := range []struct {
			name string
			q    storage.UserQuery
			want []int64
		}{
			{"all", storage.UserQuery{Limit: 10}, []int64{a.ID, bb.ID, cc.ID, dd.ID}},
			{"email-prefix-any-case", storage.UserQuery{Q: "BOB@", Limit: 10}, []int64{bb.ID}},
			{"prefix-not-infix", storage.UserQuery{Q: "lice@", Limit: 10}, []int64{}},
			{"name-or-email", storage.UserQuery{Q: "ca", Limit: 10}, []int64{cc.ID}},
			{"name-substring", storage.UserQuery{Q: "BBY", Limit: 10}, []int64{bb.ID}},
			{"percent-literal", storage.UserQuery{Q: "100%_", Limit: 10}, []int64{bb.ID}},
			{"underscore-literal", storage.UserQuery{Q: "a_", Limit: 10}, []int64{}},
			{"underscore-literal-indexed", storage.UserQuery{Q: "0_x", Limit: 10}, []int64{}},
			{"quotes-literal", storage.UserQuery{Q: `"THE"`, Limit: 10}, []int64{dd.ID}},
			{"q-any-case-non-ascii", storage.UserQuery{Q: `RTE "THE" ÄRG`, Limit: 10}, []int64{dd.ID}},
			{"active", storage.UserQuery{IsActive: ptr(false), Limit: 10}, []int64{cc.ID}},
			{"staff", storage.UserQuery{IsStaff: ptr(true), Limit: 10}, []int64{bb.ID}},
			{"keyset", storage.UserQuery{After: storage.UserPosition{ID: a.ID}, Limit: 1}, []int64{bb.ID}},
			{"q-by-email-key", storage.UserQuery{Q: "o", Limit: 10}, []int64{bb.ID, cc.ID}},
			{"q-keyset", storage.UserQuery{Q: "o", After: after("bob@example.com"), Limit: 10}, []int64{cc.ID}},
			{"invalid-text", storage.UserQuery{Q: "a\x00", Limit: 10}, []int64{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantEqual(t, "ids", mustSearch(t, s, tc.q), tc.want)
			})
		}
	}},
	{"admin/search-pages-stable-under-inserts", func(t *testing.T, s storage.Store) {
		// q matches 1,000 emails by prefix and 10 names, ordered by email
		// key, not id: aa… (name, before the range), the range, zz… (name,
		// after the name window). Between pages, matching users are
		// inserted before the cursor (never listed) and after it (listed
		// in their place); each user is listed once, in key order.
		LoadUsers(t, s, 2600) // ids 1000…3599
		create := func(email, name string) {
			t.Helper()
			u := newUser(email)
			u.Name = name
			if _, err := s.CreateUser(ctxT(t), u); err != nil {
				t.Fatalf("CreateUser(%q): %v", email, err)
			}
		}
		var want []string
		for i := range 5 {
			create(fmt.Sprintf("aa%d@example.org", i), fmt.Sprintf("Fan of USER001 %d", i))
			create(fmt.Sprintf("zz%d@example.org", i), fmt.Sprintf("user001 fan %d", i))
			want = append(want, fmt.Sprintf("aa%d@example.org", i), fmt.Sprintf("zz%d@example.org", i))
		}
		for i := 1000; i < 2000; i++ {
			want = append(want, fmt.Sprintf("user%06d@example.com", i))
		}
		var got []string
		var cursor storage.UserPosition
		for page := 0; ; page++ {
			us := mustSearchListed(t, s, storage.UserQuery{Q: "user001", After: cursor, Limit: 25})
			for _, u := range us {
				got = append(got, u.Email)
			}
			if len(us) < 25 {
				break
			}
			cursor = us[len(us)-1].Position
			create(fmt.Sprintf("a-new-%d@example.org", page), fmt.Sprintf("New user001 %d", page)) // before
			if cursor.EmailKey < "user001999z" {
				after := []string{fmt.Sprintf("zzz-new-%d@example.org", page), fmt.Sprintf("user001999z%02d@example.com", page)}
				create(after[0], fmt.Sprintf("New user001 %d", page))
				create(after[1], "Late user001") // both halves match: listed once
				want = append(want, after...)
			}
		}
		slices.Sort(want)
		wantEqual(t, "emails listed", got, want)
	}},
	{"admin/update-user", func(t *testing.T, s storage.Store) {
		a := mustCreateUser(t, s, "alice@example.com")
		b := mustCreateUser(t, s, "bob@example.com")
		u, err := s.UpdateUser(ctxT(t), a.ID, storage.UserChange{Name: ptr("Al"), Email: ptr("al@example.com"), IsStaff: ptr(true)})
		wantErr(t, "UpdateUser", err, nil)
		want := mustGetUser(t, s, a.ID)
		wantEqual(t, "returned", u, want)
		if want.Name != "Al" || want.Email != "al@example.com" || !want.IsStaff || !want.IsActive {
			t.Fatalf("stored %+v", want)
		}
		if _, err := s.GetUserByEmail(ctxT(t), "AL@example.com"); err != nil {
			t.Fatalf("new email not looked up: %v", err)
		}
		_, err = s.UpdateUser(ctxT(t), b.ID, storage.UserChange{Email: ptr("AL@EXAMPLE.COM")})
		wantErr(t, "email taken", err, storage.ErrConflict)
		_, err = s.UpdateUser(ctxT(t), 1<<40, storage.UserChange{Name: ptr("x")})
		wantErr(t, "unknown", err, storage.ErrNotFound)
	}},
	{"admin/last-superuser", func(t *testing.T, s storage.Store) {
		root := newUser("root@example.com")
		root.IsStaff, root.IsSuperuser = true, true
		r, err := s.CreateUser(ctxT(t), root)
		wantErr(t, "CreateUser", err, nil)
		_, err = s.UpdateUser(ctxT(t), r.ID, storage.UserChange{IsActive: ptr(false)})
		wantErr(t, "deactivate last", err, storage.ErrLastSuperuser)
		_, err = s.UpdateUser(ctxT(t), r.ID, storage.UserChange{IsSuperuser: ptr(false)})
		wantErr(t, "demote last", err, storage.ErrLastSuperuser)
		wantErr(t, "delete last", s.DeleteUserKeepingSuperuser(ctxT(t), r.ID), storage.ErrLastSuperuser)
		if _, err := s.UpdateUser(ctxT(t), r.ID, storage.UserChange{Name: ptr("Root")}); err != nil {
			t.Fatalf("rename last superuser: %v", err)
		}
		if got := mustGetUser(t, s, r.ID); !got.IsActive || !got.IsSuperuser {
			t.Fatalf("changed anyway: %+v", got)
		}
		other := newUser("admin2@example.com")
		other.IsStaff, other.IsSuperuser = true, true
		o, err := s.CreateUser(ctxT(t), other)
		wantErr(t, "CreateUser", err, nil)
		_, err = s.UpdateUser(ctxT(t), r.ID, storage.UserChange{IsSuperuser: ptr(false)})
		wantErr(t, "demote with another", err, nil)
		wantErr(t, "delete last now", s.DeleteUserKeepingSuperuser(ctxT(t), o.ID), storage.ErrLastSuperuser)
		wantErr(t, "delete plain", s.DeleteUserKeepingSuperuser(ctxT(t), r.ID), nil)
		wantErr(t, "delete gone", s.DeleteUserKeepingSuperuser(ctxT(t), r.ID), storage.ErrNotFound)
	}},
	{"admin/search-audit", func(t *testing.T, s storage.Store) {
		admin := mustCreateUser(t, s, "admin@example.com")
		bob := mustCreateUser(t, s, "bob@example.com")
		for _, e := range []storage.AuditEvent{
			{At: t0, Type: "login.succeeded", UserID: bob.ID},
			{At: t0.Add(1e9), Type: "admin.user.updated", UserID: bob.ID, ActorID: admin.ID, TargetType: "user", TargetID: "x", Detail: "is_active: true -> false"},
			{At: t0.Add(2e9), Type: "key.rotated", KID: "k1"},
		} {
			wantErr(t, "RecordAudit", s.RecordAudit(ctxT(t), e), nil)
		}
		all, err := s.SearchAudit(ctxT(t), storage.AuditQuery{Limit: 10})
		wantErr(t, "SearchAudit", err, nil)
		if len(all) != 3 || all[0].Type != "key.rotated" || all[2].Type != "login.succeeded" {
			t.Fatalf("not newest first: %+v", all)
		}
		upd := all[1]
		if upd.ActorID != admin.ID || upd.ActorEmail != "admin@example.com" || upd.UserEmail != "bob@example.com" ||
			upd.TargetType != "user" || upd.TargetID != "x" || !upd.At.Equal(norm(t0.Add(1e9))) {
			t.Fatalf("joined record %+v", upd)
		}
		for _, tc := range []struct {
			name string
			q    storage.AuditQuery
			want int
		}{
			{"user", storage.AuditQuery{UserID: bob.ID, Limit: 10}, 2},
			{"actor", storage.AuditQuery{UserID: admin.ID, Limit: 10}, 1},
			{"type", storage.AuditQuery{Type: "key.rotated", Limit: 10}, 1},
			{"since", storage.AuditQuery{Since: t0.Add(1e9), Limit: 10}, 2},
			{"until", storage.AuditQuery{Until: t0.Add(1e9), Limit: 10}, 1},
			{"before", storage.AuditQuery{BeforeID: all[1].ID, Limit: 10}, 1},
			{"limit", storage.AuditQuery{Limit: 1}, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.SearchAudit(ctxT(t), tc.q)
				wantErr(t, "SearchAudit", err, nil)
				if len(got) != tc.want {
					t.Fatalf("got %d events, want %d: %+v", len(got), tc.want, got)
				}
			})
		}
	}},
}

// adminConcurrencyCases: two admins demoting the only two superusers at
// once leave exactly one.
var adminConcurrencyCases = []testCase{
	{"admin/concurrent-demotions-keep-a-superuser", func(t *testing.T, s storage.Store) {
		for round := range 10 {
			var ids [2]int64
			for i := range ids {
				u := newUser(fmt.Sprintf("su%d-%d@example.com", round, i))
				u.IsStaff, u.IsSuperuser = true, true
				c, err := s.CreateUser(ctxT(t), u)
				wantErr(t, "CreateUser", err, nil)
				ids[i] = c.ID
			}
			errs := make(chan error, 2)
			start := make(chan struct{})
			for i, id := range ids {
				go func() {
					<-start
					if i == 0 {
						_, err := s.UpdateUser(ctxT(t), id, storage.UserChange{IsSuperuser: ptr(false)})
						errs <- err
						return
					}
					errs <- s.DeleteUserKeepingSuperuser(ctxT(t), id)
				}()
			}
			close(start)
			var ok, refused int
			for range 2 {
				switch err := <-errs; {
				case err == nil:
					ok++
				case errors.Is(err, storage.ErrLastSuperuser):
					refused++
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if ok != 1 || refused != 1 {
				t.Fatalf("round %d: %d succeeded, %d refused; want one each", round, ok, refused)
			}
			// make the survivor a plain user for the next round
			us, err := s.SearchUsers(ctxT(t), storage.UserQuery{Limit: 10})
			wantErr(t, "SearchUsers", err, nil)
			for _, u := range us {
				if u.IsSuperuser {
					_, err := s.UpdateUser(ctxT(t), u.ID, storage.UserChange{IsActive: ptr(false)})
					wantErr(t, "deactivate last superuser", err, storage.ErrLastSuperuser)
					s.DeleteUser(ctxT(t), u.ID)
				}
			}
		}
	}},
}
