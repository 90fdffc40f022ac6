package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

// newUser is a user as a caller would create it, with awkward times.
func newUser(email string) storage.User {
	return storage.User{
		Email:             email,
		Name:              "Name of " + email,
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		IsActive:          true,
		DateJoined:        t0,
		PasswordChangedAt: t0.Add(time.Nanosecond),
	}
}

// stored is u as the store returns it after assigning id.
func stored(u storage.User, id int64) storage.User {
	u.ID = id
	u.DateJoined = norm(u.DateJoined)
	u.LastLogin = norm(u.LastLogin)
	u.PasswordChangedAt = norm(u.PasswordChangedAt)
	return u
}

func mustCreateUser(t *testing.T, s storage.Store, email string) storage.User {
	t.Helper()
	u, err := s.CreateUser(ctxT(t), newUser(email))
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

func mustGetUser(t *testing.T, s storage.Store, id int64) storage.User {
	t.Helper()
	u, err := s.GetUser(ctxT(t), id)
	if err != nil {
		t.Fatalf("GetUser(%d): %v", id, err)
	}
	return u
}

func userIDs(us []storage.User) []int64 {
	ids := []int64{}
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	return ids
}

var userCases = []testCase{
	{"users/create-returns-stored-user", func(t *testing.T, s storage.Store) {
		in := newUser("Alice@Example.com")
		in.ID = 999 // ignored
		in.IsStaff, in.IsAdmin = true, true
		in.LastLogin = t0.Add(time.Hour + 999*time.Nanosecond)
		got, err := s.CreateUser(ctxT(t), in)
		wantErr(t, "CreateUser", err, nil)
		if got.ID <= 0 {
			t.Fatalf("CreateUser assigned id %d, want > 0", got.ID)
		}
		wantEqual(t, "created user", got, stored(in, got.ID))
		wantEqual(t, "GetUser", mustGetUser(t, s, got.ID), got)
	}},
	{"users/flags-round-trip", func(t *testing.T, s storage.Store) {
		for i := range 16 {
			in := newUser(fmt.Sprintf("flags%d@example.com", i))
			in.IsActive, in.IsStaff, in.IsSuperuser, in.IsAdmin = i&1 != 0, i&2 != 0, i&4 != 0, i&8 != 0
			got, err := s.CreateUser(ctxT(t), in)
			wantErr(t, "CreateUser", err, nil)
			wantEqual(t, "GetUser", mustGetUser(t, s, got.ID), stored(in, got.ID))
		}
	}},
	{"users/ids-increase", func(t *testing.T, s storage.Store) {
		a := mustCreateUser(t, s, "a@example.com")
		b := mustCreateUser(t, s, "b@example.com")
		if b.ID <= a.ID {
			t.Fatalf("second id %d not above first %d", b.ID, a.ID)
		}
	}},
	{"users/get-by-email-any-case", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "Alice@Example.COM")
		for _, e := range []string{"Alice@Example.COM", "alice@example.com", "ALICE@EXAMPLE.COM", "aLiCe@eXaMpLe.CoM"} {
			got, err := s.GetUserByEmail(ctxT(t), e)
			wantErr(t, "GetUserByEmail("+e+")", err, nil)
			wantEqual(t, "GetUserByEmail("+e+")", got, u)
		}
		if u.Email != "Alice@Example.COM" {
			t.Fatalf("email stored as %q, want it as written", u.Email)
		}
	}},
	{"users/get-by-email-unicode-case", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "Élodie.Ünal@Example.fr")
		got, err := s.GetUserByEmail(ctxT(t), "élodie.ünal@example.FR")
		wantErr(t, "GetUserByEmail", err, nil)
		wantEqual(t, "GetUserByEmail", got, u)
		_, err = s.CreateUser(ctxT(t), newUser("ÉLODIE.ÜNAL@EXAMPLE.FR"))
		wantErr(t, "CreateUser in other Unicode case", err, storage.ErrConflict)
	}},
	{"users/duplicate-email-other-case-conflicts", func(t *testing.T, s storage.Store) {
		first := mustCreateUser(t, s, "bob@example.com")
		for _, e := range []string{"bob@example.com", "Bob@Example.com", "BOB@EXAMPLE.COM"} {
			_, err := s.CreateUser(ctxT(t), newUser(e))
			wantErr(t, "CreateUser("+e+")", err, storage.ErrConflict)
		}
		all, err := s.ListUsers(ctxT(t), 0, 100)
		wantErr(t, "ListUsers", err, nil)
		wantEqual(t, "users after conflicts", all, []storage.User{first})
	}},
	{"users/not-found", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "present@example.com")
		missing := u.ID + 1000
		_, err := s.GetUser(ctxT(t), missing)
		wantErr(t, "GetUser", err, storage.ErrNotFound)
		_, err = s.GetUserByEmail(ctxT(t), "absent@example.com")
		wantErr(t, "GetUserByEmail", err, storage.ErrNotFound)
		wantErr(t, "SetLastLogin", s.SetLastLogin(ctxT(t), missing, t0), storage.ErrNotFound)
		wantErr(t, "SetPasswordHash", s.SetPasswordHash(ctxT(t), missing, "h", t0), storage.ErrNotFound)
		wantErr(t, "SetPasswordHash rehash", s.SetPasswordHash(ctxT(t), missing, "h", time.Time{}), storage.ErrNotFound)
		wantErr(t, "SetUserActive", s.SetUserActive(ctxT(t), missing, false), storage.ErrNotFound)
		wantErr(t, "DeleteUser", s.DeleteUser(ctxT(t), missing), storage.ErrNotFound)
		wantEqual(t, "untouched user", mustGetUser(t, s, u.ID), u)
	}},
	{"users/list-paging", func(t *testing.T, s storage.Store) {
		var ids []int64
		for i := range 5 {
			ids = append(ids, mustCreateUser(t, s, fmt.Sprintf("page%d@example.com", i)).ID)
		}
		pages := []struct {
			after int64
			limit int
			want  []int64
		}{
			{0, 2, ids[0:2]},
			{ids[1], 2, ids[2:4]},
			{ids[3], 2, ids[4:5]},
			{ids[4], 2, []int64{}},
			{0, 100, ids},
			{ids[0], 0, []int64{}},
		}
		for _, p := range pages {
			got, err := s.ListUsers(ctxT(t), p.after, p.limit)
			wantErr(t, "ListUsers", err, nil)
			wantEqual(t, fmt.Sprintf("ListUsers(%d, %d)", p.after, p.limit), userIDs(got), p.want)
		}
		all, err := s.ListUsers(ctxT(t), 0, 10)
		wantErr(t, "ListUsers", err, nil)
		wantEqual(t, "listed user", all[2], mustGetUser(t, s, ids[2]))
	}},
	{"users/list-empty", func(t *testing.T, s storage.Store) {
		got, err := s.ListUsers(ctxT(t), 0, 10)
		wantErr(t, "ListUsers", err, nil)
		if len(got) != 0 {
			t.Fatalf("ListUsers on empty store = %v", got)
		}
	}},
	{"users/last-login", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "login@example.com")
		if !u.LastLogin.IsZero() {
			t.Fatalf("new user LastLogin = %v, want zero", u.LastLogin)
		}
		at := t0.Add(48*time.Hour + 1234*time.Nanosecond)
		wantErr(t, "SetLastLogin", s.SetLastLogin(ctxT(t), u.ID, at), nil)
		want := u
		want.LastLogin = norm(at)
		wantEqual(t, "after SetLastLogin", mustGetUser(t, s, u.ID), want)
	}},
	{"users/password-hash-with-changed-at", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "pw@example.com")
		at := t0.Add(72 * time.Hour)
		wantErr(t, "SetPasswordHash", s.SetPasswordHash(ctxT(t), u.ID, "new-hash", at), nil)
		want := u
		want.PasswordHash, want.PasswordChangedAt = "new-hash", norm(at)
		wantEqual(t, "after SetPasswordHash", mustGetUser(t, s, u.ID), want)
	}},
	{"users/password-rehash-keeps-changed-at", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "rehash@example.com")
		wantErr(t, "SetPasswordHash", s.SetPasswordHash(ctxT(t), u.ID, "rehashed", time.Time{}), nil)
		want := u
		want.PasswordHash = "rehashed"
		wantEqual(t, "after rehash", mustGetUser(t, s, u.ID), want)
	}},
	{"users/swap-password-hash", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "swap@example.com")
		wantErr(t, "SwapPasswordHash from a stale hash", s.SwapPasswordHash(ctxT(t), u.ID, "stale", "upgraded"), storage.ErrNotFound)
		wantEqual(t, "after refused swap", mustGetUser(t, s, u.ID), u)
		wantErr(t, "SwapPasswordHash", s.SwapPasswordHash(ctxT(t), u.ID, u.PasswordHash, "upgraded"), nil)
		want := u
		want.PasswordHash = "upgraded"
		wantEqual(t, "after swap (changed-at kept)", mustGetUser(t, s, u.ID), want)
		wantErr(t, "SwapPasswordHash of a missing user", s.SwapPasswordHash(ctxT(t), u.ID+1000, "upgraded", "x"), storage.ErrNotFound)
	}},
	{"users/set-active", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "active@example.com")
		for _, active := range []bool{false, false, true} {
			wantErr(t, "SetUserActive", s.SetUserActive(ctxT(t), u.ID, active), nil)
			want := u
			want.IsActive = active
			wantEqual(t, fmt.Sprintf("after SetUserActive(%v)", active), mustGetUser(t, s, u.ID), want)
		}
	}},
	{"users/delete-cascades-families", func(t *testing.T, s storage.Store) {
		doomed := mustCreateUser(t, s, "doomed@example.com")
		other := mustCreateUser(t, s, "other@example.com")
		mustCreateFamily(t, s, newFamily("fam-doomed-1", doomed.ID))
		mustCreateFamily(t, s, newFamily("fam-doomed-2", doomed.ID))
		kept := mustCreateFamily(t, s, newFamily("fam-other", other.ID))

		wantErr(t, "DeleteUser", s.DeleteUser(ctxT(t), doomed.ID), nil)
		_, err := s.GetUser(ctxT(t), doomed.ID)
		wantErr(t, "GetUser deleted", err, storage.ErrNotFound)
		_, err = s.GetUserByEmail(ctxT(t), doomed.Email)
		wantErr(t, "GetUserByEmail deleted", err, storage.ErrNotFound)
		for _, id := range []string{"fam-doomed-1", "fam-doomed-2"} {
			_, err := s.GetFamily(ctxT(t), id)
			wantErr(t, "GetFamily "+id, err, storage.ErrNotFound)
		}
		got, err := s.GetFamily(ctxT(t), "fam-other")
		wantErr(t, "GetFamily other", err, nil)
		wantEqual(t, "other user's family", got, kept)
		wantEqual(t, "other user", mustGetUser(t, s, other.ID), other)
		wantErr(t, "DeleteUser again", s.DeleteUser(ctxT(t), doomed.ID), storage.ErrNotFound)
		// The email is free again.
		mustCreateUser(t, s, "DOOMED@example.com")
	}},
}
