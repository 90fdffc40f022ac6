package clients_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newRegistry(t *testing.T) (*clients.Registry, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r, err := clients.New(clients.Options{Store: storagetest.SQLite(t), Scopes: []string{"billing:read"},
		SecretOverlap: time.Hour, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk
}

func confidential() clients.Spec {
	return clients.Spec{Name: "svc", Type: storage.ClientConfidential,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"billing:read", "email"},
		Audiences: []string{"https://api.example"}}
}

func TestCreateAndAuthenticate(t *testing.T) {
	r, _ := newRegistry(t)
	c, secret, err := r.Create(t.Context(), confidential())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 32 || len(secret) != 43 {
		t.Fatalf("id %q secret %q: want 32 hex chars and 43 base64url chars (256 bits)", c.ID, secret)
	}
	stored, _ := r.Get(t.Context(), c.ID)
	if strings.Contains(stored.SecretHash, secret) || !strings.HasPrefix(stored.SecretHash, "sha256:") {
		t.Fatalf("stored hash %q", stored.SecretHash)
	}
	pub, none, err := r.Create(t.Context(), clients.Spec{ID: "spa", Type: storage.ClientPublic, GrantTypes: []string{"refresh_token"}})
	if err != nil || none != "" || pub.SecretHash != "" {
		t.Fatalf("public client: %+v %q %v", pub, none, err)
	}
	cases := []struct {
		name      string
		id        string
		secret    string
		hasSecret bool
		ok        bool
	}{
		{"confidential/right-secret", c.ID, secret, true, true},
		{"confidential/wrong-secret", c.ID, secret + "x", true, false},
		{"confidential/no-secret", c.ID, "", false, false},
		{"confidential/empty-secret", c.ID, "", true, false},
		{"unknown-client", "nope", secret, true, false},
		{"public/id-alone", "spa", "", false, true},
		{"public/with-secret", "spa", "x", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Authenticate(t.Context(), tc.id, tc.secret, tc.hasSecret)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, clients.ErrInvalidClient)) {
				t.Fatalf("Authenticate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := r.SetEnabled(t.Context(), c.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(t.Context(), c.ID, secret, true); !errors.Is(err, clients.ErrInvalidClient) {
		t.Fatalf("disabled client authenticated: %v", err)
	}
}

func TestRotateSecretOverlap(t *testing.T) {
	r, clk := newRegistry(t)
	c, old, err := r.Create(t.Context(), confidential())
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := r.RotateSecret(t.Context(), c.ID, -1) // configured overlap: 1h
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{old, fresh} {
		if _, err := r.Authenticate(t.Context(), c.ID, s, true); err != nil {
			t.Fatalf("within the overlap: %v", err)
		}
	}
	clk.t = clk.t.Add(time.Hour)
	if _, err := r.Authenticate(t.Context(), c.ID, old, true); err == nil {
		t.Fatal("old secret still works after the overlap")
	}
	if _, err := r.Authenticate(t.Context(), c.ID, fresh, true); err != nil {
		t.Fatal(err)
	}
	newest, err := r.RotateSecret(t.Context(), c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(t.Context(), c.ID, fresh, true); err == nil {
		t.Fatal("rotation without overlap kept the old secret")
	}
	if _, err := r.Authenticate(t.Context(), c.ID, newest, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RotateSecret(t.Context(), "nope", 0); !errors.Is(err, clients.ErrNotFound) {
		t.Fatalf("rotate unknown = %v", err)
	}
}

func TestSpecValidation(t *testing.T) {
	r, _ := newRegistry(t)
	cases := []struct {
		name   string
		change func(*clients.Spec)
		want   string // substring of the error; "" valid
	}{
		{"valid", func(*clients.Spec) {}, ""},
		{"bad-id", func(s *clients.Spec) { s.ID = "a b" }, "id:"},
		{"bad-type", func(s *clients.Spec) { s.Type = "secret" }, "type:"},
		{"unknown-grant", func(s *clients.Spec) { s.GrantTypes = []string{"implicit"} }, "grant:"},
		{"public-client-credentials", func(s *clients.Spec) { s.Type = storage.ClientPublic }, "confidential client"},
		{"password-needs-first-party", func(s *clients.Spec) { s.GrantTypes = []string{"password"} }, "first-party"},
		{"unknown-scope", func(s *clients.Spec) { s.Scopes = []string{"admin"} }, "scope:"},
		{"redirect-fragment", func(s *clients.Spec) { s.RedirectURIs = []string{"https://a.example/cb#x"} }, "fragment"},
		{"redirect-http-remote", func(s *clients.Spec) { s.RedirectURIs = []string{"http://a.example/cb"} }, "loopback"},
		{"redirect-relative", func(s *clients.Spec) { s.RedirectURIs = []string{"/cb"} }, "absolute"},
		{"redirect-native-ok", func(s *clients.Spec) {
			s.RedirectURIs = []string{"com.example.app:/cb", "http://127.0.0.1:8000/cb"}
		}, ""},
		{"audience-relative", func(s *clients.Spec) { s.Audiences = []string{"api"} }, "audience:"},
		{"negative-ttl", func(s *clients.Spec) { s.AccessTTL = -time.Second }, "access-ttl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := confidential()
			tc.change(&s)
			_, _, err := r.Create(t.Context(), s)
			var ve *clients.ValidationError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Create: %v", err)
			case tc.want != "" && (!errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Create = %v, want a validation error about %q", err, tc.want)
			}
		})
	}
	if _, _, err := r.Create(t.Context(), clients.Spec{ID: "fixed", Type: storage.ClientPublic}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Create(t.Context(), clients.Spec{ID: "fixed", Type: storage.ClientPublic}); !errors.Is(err, clients.ErrExists) {
		t.Fatalf("duplicate id = %v", err)
	}
}

func TestScopesAndAudience(t *testing.T) {
	r, _ := newRegistry(t)
	c := storage.Client{Scopes: []string{"openid", "email", "billing:read"}, Audiences: []string{"https://a", "https://b"}}
	cases := []struct {
		name      string
		requested []string
		withUser  bool
		within    []string
		want      string // joined result, or "error"
	}{
		{"default-without-user-drops-openid", nil, false, nil, "email billing:read"},
		{"default-with-user", nil, true, nil, "openid email billing:read"},
		{"subset", []string{"email"}, false, nil, "email"},
		{"not-allowed", []string{"profile"}, true, nil, "error"},
		{"unknown", []string{"root"}, true, nil, "error"},
		{"openid-without-user", []string{"openid"}, false, nil, "error"},
		{"narrowing", []string{"email"}, true, []string{"email", "openid"}, "email"},
		{"widening", []string{"billing:read"}, true, []string{"email"}, "error"},
		{"refresh-default-keeps-grant", nil, true, []string{"email"}, "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Scopes(c, tc.requested, tc.withUser, tc.within)
			var se *clients.ScopeError
			if tc.want == "error" {
				if !errors.As(err, &se) {
					t.Fatalf("Scopes = %v, %v; want a ScopeError", got, err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("Scopes = %v, %v; want %q", got, err, tc.want)
			}
		})
	}
	if aud, err := clients.Audience(c, nil); err != nil || strings.Join(aud, " ") != "https://a https://b" {
		t.Fatalf("default audience = %v %v", aud, err)
	}
	if aud, err := clients.Audience(c, []string{"https://b"}); err != nil || len(aud) != 1 || aud[0] != "https://b" {
		t.Fatalf("resource audience = %v %v", aud, err)
	}
	var te *clients.TargetError
	if _, err := clients.Audience(c, []string{"https://c"}); !errors.As(err, &te) {
		t.Fatalf("foreign resource = %v", err)
	}
}

func TestAuthenticateCache(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	store := storagetest.SQLite(t)
	server, err := clients.New(clients.Options{Store: store, CacheTTL: time.Second, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	cli, _ := clients.New(clients.Options{Store: store, Now: clk.now}) // another process: the CLI
	c, secret, err := server.Create(t.Context(), confidentialNoScopes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(t.Context(), c.ID, secret, true); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.SetEnabled(t.Context(), c.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(t.Context(), c.ID, secret, true); err != nil {
		t.Fatalf("within the cache TTL the record read before is used: %v", err)
	}
	clk.t = clk.t.Add(time.Second)
	if _, err := server.Authenticate(t.Context(), c.ID, secret, true); !errors.Is(err, clients.ErrInvalidClient) {
		t.Fatalf("after the TTL the disable is seen: %v", err)
	}
	// Changes through the same registry take effect at once.
	if _, err := server.SetEnabled(t.Context(), c.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(t.Context(), c.ID, secret, true); err != nil {
		t.Fatal(err)
	}
	fresh, err := server.RotateSecret(t.Context(), c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(t.Context(), c.ID, secret, true); err == nil {
		t.Fatal("rotated-out secret accepted from the cache")
	}
	if _, err := server.Authenticate(t.Context(), c.ID, fresh, true); err != nil {
		t.Fatal(err)
	}
}

func confidentialNoScopes() clients.Spec {
	return clients.Spec{Type: storage.ClientConfidential, GrantTypes: []string{"client_credentials"}}
}
