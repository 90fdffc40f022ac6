package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idp/idp/internal/storage"
)

// Strings Postgres cannot keep in TEXT: both stores refuse them as values,
// find nothing under them, and clean them out of metadata.
var badText = []string{"nul\x00byte", "bad\xffutf8", "\xc3"}

var textCases = []testCase{
	{"text/unicode-round-trips", func(t *testing.T, s storage.Store) {
		for i, name := range []string{"Zoë 🚀", "山田 太郎", "مرحبا", "e\u0301 combining", "tab\tnew\nline", strings.Repeat("long ", 2000)} {
			in := newUser(fmt.Sprintf("uni%d@例え.jp", i))
			in.Name = name
			u, err := s.CreateUser(ctxT(t), in)
			wantErr(t, "CreateUser", err, nil)
			wantEqual(t, "GetUser", mustGetUser(t, s, u.ID), stored(in, u.ID))
		}
	}},
	{"text/invalid-values-refused", func(t *testing.T, s storage.Store) {
		f := userWithFamily(t, s)
		k := newKey("k", "RS256", storage.KeyActive, t0)
		mustApply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{k}})
		for _, bad := range badText {
			u := newUser("x@example.com")
			u.Name = bad
			_, err := s.CreateUser(ctxT(t), u)
			refused(t, "CreateUser name", err)
			_, err = s.CreateUser(ctxT(t), newUser(bad+"@example.com"))
			refused(t, "CreateUser email", err)
			refused(t, "SetPasswordHash", s.SetPasswordHash(ctxT(t), f.UserID, bad, t0))
			bf := newFamily(bad, f.UserID)
			refused(t, "CreateFamily id", s.CreateFamily(ctxT(t), bf))
			bf = newFamily("other", f.UserID)
			bf.CurrentJTI = bad
			refused(t, "CreateFamily jti", s.CreateFamily(ctxT(t), bf))
			_, err = s.RotateFamily(ctxT(t), storage.Rotation{FamilyID: f.ID, OldJTI: f.CurrentJTI, NewJTI: bad, NewKID: "k", At: t0})
			refused(t, "RotateFamily new jti", err)
			bk := newKey(bad, "RS256", storage.KeyNext, t0)
			refused(t, "UpdateSigningKeys kid", apply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{bk}}))
			bk = newKey("k2", "RS256", storage.KeyNext, t0)
			bk.PublicJWK = []byte(bad)
			refused(t, "UpdateSigningKeys jwk", apply(t, s, storage.KeyChanges{Insert: []storage.SigningKey{bk}}))
		}
		all, err := s.ListUsers(ctxT(t), 0, 10)
		wantErr(t, "ListUsers", err, nil)
		if len(all) != 1 {
			t.Fatalf("%d users after refused writes, want 1", len(all))
		}
		wantEqual(t, "family", mustGetFamily(t, s, f.ID), f)
		wantEqual(t, "keys", mustListKeys(t, s), storedKeys([]storage.SigningKey{k}))
	}},
	{"text/invalid-lookups-not-found", func(t *testing.T, s storage.Store) {
		f := userWithFamily(t, s)
		for _, bad := range badText {
			_, err := s.GetUserByEmail(ctxT(t), bad)
			wantErr(t, "GetUserByEmail", err, storage.ErrNotFound)
			_, err = s.GetFamily(ctxT(t), bad)
			wantErr(t, "GetFamily", err, storage.ErrNotFound)
			_, err = s.RotateFamily(ctxT(t), storage.Rotation{FamilyID: bad, OldJTI: "x", NewJTI: "n", NewKID: "k", At: t0})
			wantErr(t, "RotateFamily family", err, storage.ErrNotFound)
			_, err = s.RotateFamily(ctxT(t), storage.Rotation{FamilyID: f.ID, OldJTI: bad, NewJTI: "n", NewKID: "k", At: t0})
			wantErr(t, "RotateFamily old jti", err, storage.ErrNotFound)
			_, err = s.RevokeFamily(ctxT(t), bad, t0, "x")
			wantErr(t, "RevokeFamily", err, storage.ErrNotFound)
		}
		wantEqual(t, "family", mustGetFamily(t, s, f.ID), f)
	}},
	{"text/metadata-cleaned", func(t *testing.T, s storage.Store) {
		u := mustCreateUser(t, s, "meta@example.com")
		f := newFamily("fam", u.ID)
		f.UserAgent, f.IP = "Mozilla\xff/5.0\x00 (X11)", "10.0.0.1\x00"
		wantErr(t, "CreateFamily", s.CreateFamily(ctxT(t), f), nil)
		got := mustGetFamily(t, s, "fam")
		if got.UserAgent != "Mozilla\uFFFD/5.0 (X11)" || got.IP != "10.0.0.1" {
			t.Fatalf("metadata stored as %q, %q", got.UserAgent, got.IP)
		}
		ok, err := s.RevokeFamily(ctxT(t), "fam", t0, "why\x00\xfe")
		wantErr(t, "RevokeFamily", err, nil)
		if !ok || mustGetFamily(t, s, "fam").RevokeReason != "why\uFFFD" {
			t.Fatalf("revoke reason stored as %q", mustGetFamily(t, s, "fam").RevokeReason)
		}
		e := storage.AuditEvent{At: t0, Type: "login.failed\x00", FamilyID: "\xff", KID: "k\x00", IP: "ip\xff", UserAgent: "ua\x00", Detail: "d\xc3"}
		wantErr(t, "RecordAudit", s.RecordAudit(ctxT(t), e), nil)
		es := mustListAudit(t, s, 0, 1)
		want := storage.AuditEvent{ID: es[0].ID, At: norm(t0), Type: "login.failed", FamilyID: "\uFFFD", KID: "k", IP: "ip\uFFFD", UserAgent: "ua", Detail: "d\uFFFD"}
		wantEqual(t, "audit event", es[0], want)
	}},
}

// refused fails unless err reports text that cannot be stored (and not
// some other failure such as a sentinel).
func refused(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: invalid text accepted", what)
	}
	if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("%s: got %v, want a refusal of the text", what, err)
	}
	if !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("%s: error %q does not explain the refusal", what, err)
	}
}

// FuzzText checks with arbitrary strings that a user's email and name are
// stored exactly or refused, never mangled, and found again by email; and
// that client metadata is always stored, as valid text. s is shared by
// every input.
func FuzzText(f *testing.F, s storage.Store) {
	for _, seed := range [][2]string{
		{"a@example.com", "Alice"}, {"ÉLODIE@x.fr", "Zoë 🚀"}, {"nul\x00@x", "n"}, {"e@x", "bad\xff"},
		{"ß@x", "İstanbul"}, {"", ""}, {"\u212a@x", "Kelvin sign"},
	} {
		f.Add(seed[0], seed[1])
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, email, name string) {
		ctx := t.Context()
		email = fmt.Sprintf("%d-%s", n.Add(1), email) // unique across inputs
		now := time.Now()
		u, err := s.CreateUser(ctx, storage.User{Email: email, Name: name, PasswordHash: "h", DateJoined: now, PasswordChangedAt: now})
		valid := true
		for _, v := range []string{email, name} {
			valid = valid && utf8.ValidString(v) && !strings.ContainsRune(v, 0)
		}
		if !valid {
			if err == nil {
				t.Fatalf("CreateUser(%q, %q) accepted invalid text", email, name)
			}
			return
		}
		if err != nil {
			t.Fatalf("CreateUser(%q, %q): %v", email, name, err)
		}
		got, err := s.GetUserByEmail(ctx, email)
		if err != nil || got.ID != u.ID || got.Email != email || got.Name != name {
			t.Fatalf("GetUserByEmail(%q) = %+v, %v; want user %d as written", email, got, err, u.ID)
		}
		fam := storage.Family{ID: email, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
			CurrentJTI: "j", CurrentKID: "k", RotatedAt: now, UserAgent: name + "\xff\x00", IP: name}
		if err := s.CreateFamily(ctx, fam); err != nil {
			t.Fatalf("CreateFamily with user agent %q: %v", fam.UserAgent, err)
		}
		gf, err := s.GetFamily(ctx, email)
		if err != nil || gf.IP != name || gf.UserAgent != name+"\uFFFD" {
			t.Fatalf("GetFamily = %+v, %v", gf, err)
		}
	})
}
