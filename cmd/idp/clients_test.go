package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestClientsCommands(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			cliStore(t, backend)
			testClientsCommands(t)
		})
	}
}

func testClientsCommands(t *testing.T) {
	if r := idp(t, nil, "clients", "list"); r.err != nil || !strings.Contains(r.stderr, "store: ") {
		t.Fatalf("clients list names its store on stderr: %s", r.all())
	}
	res := idp(t, nil, "clients", "create", "--name", "billing", "--grant", "client_credentials",
		"--scope", "email", "--audience", "https://billing.example", "--id", "billing", "--json").mustSucceed(t)
	var created map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, res.stdout)
	}
	secret, _ := created["client_secret"].(string)
	if created["client_id"] != "billing" || len(secret) != 43 {
		t.Fatalf("create --json = %s", res.stdout)
	}
	for _, args := range [][]string{{"get", "billing"}, {"get", "billing", "--json"}, {"list"}, {"list", "--json"}} {
		out := idp(t, nil, append([]string{"clients"}, args...)...).mustSucceed(t).stdout
		if strings.Contains(out, secret) || strings.Contains(out, "sha256:") {
			t.Fatalf("clients %v shows the secret or its hash:\n%s", args, out)
		}
		if !strings.Contains(out, "billing") {
			t.Fatalf("clients %v:\n%s", args, out)
		}
	}
	out := idp(t, nil, "clients", "update", "billing", "--scope", "profile", "--json").mustSucceed(t).stdout
	var upd clientView
	if err := json.Unmarshal([]byte(out), &upd); err != nil || strings.Join(upd.Scopes, " ") != "profile" ||
		strings.Join(upd.GrantTypes, " ") != "client_credentials" {
		t.Fatalf("update: %v\n%s", err, out)
	}
	out = idp(t, nil, "clients", "rotate-secret", "billing", "--overlap", "1h", "--json").mustSucceed(t).stdout
	var rot map[string]any
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot["client_secret"] == secret || rot["previous_secret_valid_until"] == nil {
		t.Fatalf("rotate-secret: %v\n%s", err, out)
	}
	idp(t, nil, "clients", "disable", "billing").mustSucceed(t)
	out = idp(t, nil, "clients", "get", "billing", "--json").mustSucceed(t).stdout
	if !strings.Contains(out, `"enabled": false`) {
		t.Fatalf("after disable:\n%s", out)
	}
	idp(t, nil, "clients", "delete", "billing").mustSucceed(t)
	if r := idp(t, nil, "clients", "get", "billing"); r.err == nil || !strings.Contains(r.err.Error(), "no such client") {
		t.Fatalf("get after delete: %s", r.all())
	}
}

func TestClientsCreateRefuses(t *testing.T) {
	cliStore(t, "sqlite")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"public-client-credentials", []string{"--type", "public", "--grant", "client_credentials"}, "confidential client"},
		{"password-not-first-party", []string{"--grant", "password"}, "first-party"},
		{"unknown-scope", []string{"--scope", "root"}, "scope:"},
		{"bad-redirect", []string{"--redirect-uri", "http://evil.example/cb"}, "loopback"},
		{"bad-type", []string{"--type", "secret"}, "type:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := idp(t, nil, append([]string{"clients", "create"}, tc.args...)...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("clients create %v: %s; want an error about %q", tc.args, r.all(), tc.want)
			}
		})
	}
	out := idp(t, nil, "clients", "list", "--json").mustSucceed(t).stdout
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("refused creates left clients: %s", out)
	}
}

func TestClientsNeedAnExistingStore(t *testing.T) {
	sandbox(t)
	r := idp(t, nil, "clients", "create", "--name", "x")
	if r.err == nil || !strings.Contains(r.err.Error(), "no idp store") {
		t.Fatalf("clients create without a store: %s", r.all())
	}
}
