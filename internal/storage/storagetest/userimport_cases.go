package storagetest

import (
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

func importUser(id int64, email string) storage.User {
	return storage.User{
		ID: id, Email: email, Name: "Imported " + email, PasswordHash: "pbkdf2_sha256$1000$salt$key",
		IsActive: true, IsStaff: id%2 == 0, IsAdmin: id%3 == 0,
		DateJoined: norm(t0.Add(-time.Duration(id) * time.Hour)), LastLogin: norm(t0.Add(-time.Minute)),
		PasswordChangedAt: norm(t0),
	}
}

func beginImport(t *testing.T, s storage.Store) storage.UserImport {
	t.Helper()
	ui, ok := s.(storage.UserImports)
	if !ok {
		t.Fatalf("%T does not implement storage.UserImports", s)
	}
	im, err := ui.BeginUserImport(ctxT(t))
	wantErr(t, "BeginUserImport", err, nil)
	t.Cleanup(func() { im.Rollback(t.Context()) })
	return im
}

// runImport stages users, checks there are no clashes, applies and commits.
func runImport(t *testing.T, s storage.Store, update bool, users ...storage.User) storage.ImportResult {
	t.Helper()
	im := beginImport(t, s)
	wantErr(t, "Stage", im.Stage(ctxT(t), users), nil)
	clashes, err := im.Clashes(ctxT(t))
	wantErr(t, "Clashes", err, nil)
	wantEqual(t, "clashes", len(clashes), 0)
	r, err := im.Apply(ctxT(t), update, false)
	wantErr(t, "Apply", err, nil)
	wantErr(t, "Commit", im.Commit(ctxT(t)), nil)
	return r
}

var userImportCases = []testCase{
	{"userimport/keeps-ids-and-moves-sequence-past-them", func(t *testing.T, s storage.Store) {
		first := mustCreateUser(t, s, "native@example.com")
		a, b := importUser(first.ID+5, "a@example.com"), importUser(first.ID+1000, "B@Example.com")
		a.LastLogin = time.Time{}
		r := runImport(t, s, false, a, b)
		wantEqual(t, "result", r, storage.ImportResult{Inserted: 2})
		wantEqual(t, "user a", mustGetUser(t, s, a.ID), a)
		got, err := s.GetUserByEmail(ctxT(t), "b@example.com")
		wantErr(t, "GetUserByEmail (case-insensitive)", err, nil)
		wantEqual(t, "user b", got, b)
		next := mustCreateUser(t, s, "after@example.com")
		if next.ID <= b.ID {
			t.Fatalf("registration after import got id %d, want > %d", next.ID, b.ID)
		}
	}},
	{"userimport/rerun-changes-nothing-update-applies-changes", func(t *testing.T, s storage.Store) {
		a, b, c := importUser(10, "a@example.com"), importUser(11, "b@example.com"), importUser(12, "c@example.com")
		runImport(t, s, false, a, b, c)
		wantEqual(t, "rerun", runImport(t, s, false, a, b, c), storage.ImportResult{Existing: 3})

		// b logged in to idp: its hash became argon2id and last_login moved.
		loggedIn := norm(t0.Add(time.Hour))
		wantErr(t, "SwapPasswordHash", s.SwapPasswordHash(ctxT(t), b.ID, b.PasswordHash, "$argon2id$v=19$idp"), nil)
		wantErr(t, "SetLastLogin", s.SetLastLogin(ctxT(t), b.ID, loggedIn), nil)
		wantEqual(t, "after idp login", runImport(t, s, false, a, b, c), storage.ImportResult{Existing: 3})

		a2, b2, c2 := a, b, c
		a2.Name, a2.Email = "Renamed", "A@example.com"
		b2.PasswordHash = "pbkdf2_sha256$1000$salt$changed-in-django" // never over idp's own hash
		c2.PasswordHash, c2.PasswordChangedAt = "pbkdf2_sha256$1000$salt$new", norm(t0.Add(2*time.Hour))
		wantEqual(t, "without update", runImport(t, s, false, a2, b2, c2), storage.ImportResult{Existing: 3, Changed: 2})
		wantEqual(t, "a unchanged without --update", mustGetUser(t, s, a.ID), a)
		wantEqual(t, "with update", runImport(t, s, true, a2, b2, c2), storage.ImportResult{Existing: 3, Changed: 2})
		wantEqual(t, "a updated", mustGetUser(t, s, a.ID), a2)
		gotB := mustGetUser(t, s, b.ID)
		if gotB.PasswordHash != "$argon2id$v=19$idp" || !gotB.LastLogin.Equal(loggedIn) {
			t.Fatalf("b after update: hash %q last login %v; want idp's hash and login kept", gotB.PasswordHash, gotB.LastLogin)
		}
		wantEqual(t, "c updated (new hash moves password_changed_at)", mustGetUser(t, s, c.ID), c2)
		wantEqual(t, "second update", runImport(t, s, true, a2, b2, c2), storage.ImportResult{Existing: 3})
	}},
	{"userimport/clashes-reported-and-dropped", func(t *testing.T, s storage.Store) {
		taken := mustCreateUser(t, s, "taken@example.com")
		im := beginImport(t, s)
		dupA, dupB := importUser(taken.ID+10, "dup@example.com"), importUser(taken.ID+11, "DUP@example.com")
		sameID1, sameID2 := importUser(taken.ID+20, "one@example.com"), importUser(taken.ID+20, "two@example.com")
		idTaken := importUser(taken.ID, "other@example.com")
		emailTaken := importUser(taken.ID+30, "Taken@example.com")
		ok := importUser(taken.ID+40, "ok@example.com")
		wantErr(t, "Stage", im.Stage(ctxT(t), []storage.User{dupA, dupB, sameID1}), nil)
		wantErr(t, "Stage", im.Stage(ctxT(t), []storage.User{sameID2, idTaken, emailTaken, ok}), nil)
		clashes, err := im.Clashes(ctxT(t))
		wantErr(t, "Clashes", err, nil)
		last := norm(t0.Add(-time.Minute))
		wantEqual(t, "clashes", clashes, []storage.ImportClash{
			{Kind: storage.ClashDuplicateID, ID: sameID1.ID, Email: "one@example.com", LastLogin: last},
			{Kind: storage.ClashDuplicateID, ID: sameID1.ID, Email: "two@example.com", LastLogin: last},
			{Kind: storage.ClashEmail, ID: dupA.ID, Email: "dup@example.com", LastLogin: last},
			{Kind: storage.ClashEmail, ID: dupB.ID, Email: "DUP@example.com", LastLogin: last},
			{Kind: storage.ClashEmailTaken, ID: emailTaken.ID, Email: "Taken@example.com", LastLogin: last, ExistingID: taken.ID, ExistingEmail: "taken@example.com"},
			{Kind: storage.ClashIDTaken, ID: taken.ID, Email: "other@example.com", LastLogin: last, ExistingID: taken.ID, ExistingEmail: "taken@example.com"},
		})
		// Applying with clashes left fails and changes nothing.
		wantErr(t, "Drop", im.Drop(ctxT(t), []int64{sameID1.ID, dupB.ID, idTaken.ID, emailTaken.ID}), nil)
		clashes, err = im.Clashes(ctxT(t))
		wantErr(t, "Clashes after Drop", err, nil)
		wantEqual(t, "clashes after Drop", len(clashes), 0)
		dry, err := im.Apply(ctxT(t), false, true)
		wantErr(t, "Apply dry", err, nil)
		wantEqual(t, "dry run", dry, storage.ImportResult{Inserted: 2})
		r, err := im.Apply(ctxT(t), false, false)
		wantErr(t, "Apply", err, nil)
		wantEqual(t, "result", r, storage.ImportResult{Inserted: 2})
		wantErr(t, "Commit", im.Commit(ctxT(t)), nil)
		wantEqual(t, "dup kept", mustGetUser(t, s, dupA.ID), dupA)
		wantEqual(t, "ok kept", mustGetUser(t, s, ok.ID), ok)
		wantEqual(t, "existing user untouched", mustGetUser(t, s, taken.ID), taken)
	}},
	{"userimport/rollback-leaves-store-as-it-was", func(t *testing.T, s storage.Store) {
		im := beginImport(t, s)
		wantErr(t, "Stage", im.Stage(ctxT(t), []storage.User{importUser(500, "x@example.com")}), nil)
		_, err := im.Apply(ctxT(t), false, false)
		wantErr(t, "Apply", err, nil)
		wantErr(t, "Rollback", im.Rollback(ctxT(t)), nil)
		_, err = s.GetUser(ctxT(t), 500)
		wantErr(t, "GetUser after rollback", err, storage.ErrNotFound)
		// The store is writable again, and a second import works.
		u := mustCreateUser(t, s, "x@example.com")
		wantEqual(t, "second import", runImport(t, s, false, importUser(u.ID+1, "y@example.com")), storage.ImportResult{Inserted: 1})
	}},
	{"userimport/invalid-text-refused", func(t *testing.T, s storage.Store) {
		im := beginImport(t, s)
		bad := importUser(7, "nul\x00@example.com")
		if err := im.Stage(ctxT(t), []storage.User{bad}); err == nil {
			t.Fatal("Stage accepted an email with a NUL byte")
		}
	}},
}
