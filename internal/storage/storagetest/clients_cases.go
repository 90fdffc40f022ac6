package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
)

func fullClient(id string) storage.Client {
	return storage.Client{
		ID:                     id,
		Name:                   "Billing — Dienst",
		Type:                   storage.ClientConfidential,
		GrantTypes:             []string{"client_credentials", "refresh_token"},
		RedirectURIs:           []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		Scopes:                 []string{"openid", "billing:read"},
		Audiences:              []string{"https://api.example", "urn:billing"},
		AccessTTL:              90 * time.Second,
		RefreshTTL:             36 * time.Hour,
		FirstParty:             true,
		Enabled:                true,
		SecretHash:             "h1",
		CreatedAt:              t0,
		UpdatedAt:              t0.Add(time.Second),
	}
}

// normClient is what a store returns for c: times normalised, nil lists
// empty.
func normClient(c storage.Client) storage.Client {
	for _, l := range []*[]string{&c.GrantTypes, &c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.Scopes, &c.Audiences} {
		if *l == nil {
			*l = []string{}
		}
	}
	c.CreatedAt, c.UpdatedAt, c.PreviousSecretExpiresAt = norm(c.CreatedAt), norm(c.UpdatedAt), norm(c.PreviousSecretExpiresAt)
	return c
}

func mustGetClient(t *testing.T, s storage.Store, id string) storage.Client {
	t.Helper()
	c, err := s.GetClient(ctxT(t), id)
	wantErr(t, "GetClient "+id, err, nil)
	return c
}

var clientCases = []testCase{
	{"clients/create-get-round-trip", func(t *testing.T, s storage.Store) {
		full := fullClient("billing")
		bare := storage.Client{ID: "spa", Type: storage.ClientPublic, CreatedAt: t0, UpdatedAt: t0}
		for _, c := range []storage.Client{full, bare} {
			wantErr(t, "CreateClient "+c.ID, s.CreateClient(ctxT(t), c), nil)
			wantEqual(t, "client "+c.ID, mustGetClient(t, s, c.ID), normClient(c))
		}
	}},
	{"clients/create-duplicate-conflicts", func(t *testing.T, s storage.Store) {
		wantErr(t, "first", s.CreateClient(ctxT(t), fullClient("dup")), nil)
		other := fullClient("dup")
		other.Name = "other"
		wantErr(t, "second", s.CreateClient(ctxT(t), other), storage.ErrConflict)
		if got := mustGetClient(t, s, "dup"); got.Name != fullClient("dup").Name {
			t.Fatalf("the refused create changed the row: %+v", got)
		}
	}},
	{"clients/get-missing-and-invalid", func(t *testing.T, s storage.Store) {
		for _, id := range []string{"nope", "bad\x00id", "\xff"} {
			_, err := s.GetClient(ctxT(t), id)
			wantErr(t, fmt.Sprintf("GetClient %q", id), err, storage.ErrNotFound)
		}
		c := fullClient("bad\x00")
		if err := s.CreateClient(ctxT(t), c); err == nil || errors.Is(err, storage.ErrConflict) {
			t.Fatalf("CreateClient with a NUL id = %v, want a text error", err)
		}
	}},
	{"clients/list-paging", func(t *testing.T, s storage.Store) {
		for _, id := range []string{"c", "a", "b"} {
			wantErr(t, "CreateClient", s.CreateClient(ctxT(t), fullClient(id)), nil)
		}
		page, err := s.ListClients(ctxT(t), "", 2)
		wantErr(t, "ListClients", err, nil)
		if len(page) != 2 || page[0].ID != "a" || page[1].ID != "b" {
			t.Fatalf("page 1 = %+v", page)
		}
		page, err = s.ListClients(ctxT(t), "b", 2)
		wantErr(t, "ListClients", err, nil)
		if len(page) != 1 || page[0].ID != "c" {
			t.Fatalf("page 2 = %+v", page)
		}
		wantEqual(t, "page 2 content", page[0], normClient(fullClient("c")))
	}},
	{"clients/update-keeps-secrets-and-created", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreateClient", s.CreateClient(ctxT(t), fullClient("u")), nil)
		upd := storage.Client{ID: "u", Name: "renamed", Type: storage.ClientPublic,
			GrantTypes: []string{"password"}, Enabled: false, SecretHash: "ignored",
			CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour)}
		wantErr(t, "UpdateClient", s.UpdateClient(ctxT(t), upd), nil)
		want := normClient(upd)
		want.SecretHash, want.CreatedAt = "h1", norm(t0)
		wantEqual(t, "updated", mustGetClient(t, s, "u"), want)
		wantErr(t, "UpdateClient missing", s.UpdateClient(ctxT(t), storage.Client{ID: "zz", Type: "public"}), storage.ErrNotFound)
	}},
	{"clients/rotate-secret-with-and-without-overlap", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreateClient", s.CreateClient(ctxT(t), fullClient("r")), nil)
		at := t0.Add(time.Minute)
		wantErr(t, "rotate", s.RotateClientSecret(ctxT(t), storage.SecretRotation{
			ClientID: "r", NewHash: "h2", PreviousExpiresAt: at.Add(time.Hour), At: at}), nil)
		got := mustGetClient(t, s, "r")
		if got.SecretHash != "h2" || got.PreviousSecretHash != "h1" ||
			!got.PreviousSecretExpiresAt.Equal(norm(at.Add(time.Hour))) || !got.UpdatedAt.Equal(norm(at)) {
			t.Fatalf("after rotation with overlap: %+v", got)
		}
		wantErr(t, "rotate again", s.RotateClientSecret(ctxT(t), storage.SecretRotation{
			ClientID: "r", NewHash: "h3", At: at}), nil)
		got = mustGetClient(t, s, "r")
		if got.SecretHash != "h3" || got.PreviousSecretHash != "" || !got.PreviousSecretExpiresAt.IsZero() {
			t.Fatalf("after rotation without overlap: %+v", got)
		}
		wantErr(t, "rotate missing", s.RotateClientSecret(ctxT(t), storage.SecretRotation{ClientID: "zz", NewHash: "x", At: at}), storage.ErrNotFound)
	}},
	{"clients/delete", func(t *testing.T, s storage.Store) {
		wantErr(t, "CreateClient", s.CreateClient(ctxT(t), fullClient("d")), nil)
		wantErr(t, "DeleteClient", s.DeleteClient(ctxT(t), "d"), nil)
		_, err := s.GetClient(ctxT(t), "d")
		wantErr(t, "GetClient after delete", err, storage.ErrNotFound)
		wantErr(t, "DeleteClient again", s.DeleteClient(ctxT(t), "d"), storage.ErrNotFound)
	}},
	{"revoked/revoke-check-idempotent", func(t *testing.T, s storage.Store) {
		tok := storage.RevokedToken{JTI: "j1", ClientID: "c", ExpiresAt: t0.Add(time.Hour), RevokedAt: t0}
		wantErr(t, "RevokeToken", s.RevokeToken(ctxT(t), tok), nil)
		wantErr(t, "RevokeToken again", s.RevokeToken(ctxT(t), tok), nil)
		for jti, want := range map[string]bool{"j1": true, "j2": false, "bad\x00": false} {
			got, err := s.IsTokenRevoked(ctxT(t), jti)
			wantErr(t, "IsTokenRevoked", err, nil)
			if got != want {
				t.Fatalf("IsTokenRevoked(%q) = %v, want %v", jti, got, want)
			}
		}
	}},
	{"revoked/delete-expired-in-batches", func(t *testing.T, s storage.Store) {
		for i := range 5 {
			wantErr(t, "RevokeToken", s.RevokeToken(ctxT(t), storage.RevokedToken{
				JTI: fmt.Sprintf("j%d", i), ExpiresAt: t0.Add(time.Duration(i) * time.Minute), RevokedAt: t0}), nil)
		}
		now := t0.Add(3 * time.Minute) // j0..j3 expired (at or before now)
		n, err := s.DeleteExpiredRevokedTokens(ctxT(t), now, 3)
		wantErr(t, "delete batch 1", err, nil)
		if n != 3 {
			t.Fatalf("batch 1 deleted %d, want 3", n)
		}
		n, err = s.DeleteExpiredRevokedTokens(ctxT(t), now, 3)
		wantErr(t, "delete batch 2", err, nil)
		if n != 1 {
			t.Fatalf("batch 2 deleted %d, want 1", n)
		}
		for jti, want := range map[string]bool{"j3": false, "j4": true} {
			if got, _ := s.IsTokenRevoked(ctxT(t), jti); got != want {
				t.Fatalf("IsTokenRevoked(%s) = %v after cleanup, want %v", jti, got, want)
			}
		}
	}},
}
