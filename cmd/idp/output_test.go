package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idp/idp/internal/signer"
)

// TestUserStateChangesAreIdempotent: deactivating an inactive user (or
// activating an active one) says so and writes no audit event.
func TestUserStateChangesAreIdempotent(t *testing.T) {
	s := cliStore(t, "sqlite")
	alice, _ := adminSetup(t, s)
	idp(t, nil, "users", "deactivate", "alice@example.com").mustSucceed(t)
	r := idp(t, nil, "users", "deactivate", "alice@example.com").mustSucceed(t)
	if r.stdout != fmt.Sprintf("user %d <alice@example.com>: already inactive; nothing changed\n", alice.ID) {
		t.Errorf("second deactivate: %q", r.stdout)
	}
	r = idp(t, nil, "users", "deactivate", "--json", "alice@example.com").mustSucceed(t)
	var got struct {
		User    userRow `json:"user"`
		Result  string  `json:"result"`
		Changed bool    `json:"changed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Changed || got.User.ID != alice.ID || got.User.IsActive {
		t.Errorf("deactivate --json: %q (%v)", r.stdout, err)
	}
	if types := auditTypes(t, s, alice.ID); !slices.Equal(types, []string{"user.deactivated", "family.revoked"}) {
		t.Errorf("audit %v: want one deactivation", types)
	}
	idp(t, nil, "users", "activate", "alice@example.com").mustSucceed(t)
	r = idp(t, nil, "users", "activate", "alice@example.com").mustSucceed(t)
	if !strings.Contains(r.stdout, "already active; nothing changed") {
		t.Errorf("second activate: %q", r.stdout)
	}
	if types := auditTypes(t, s, alice.ID); strings.Count(strings.Join(types, " "), "user.activated") != 1 {
		t.Errorf("audit %v: want one activation", types)
	}
}

// TestJSONOutput: every command a script reads has --json: one JSON
// document on stdout, ending with a newline.
func TestJSONOutput(t *testing.T) {
	migratedSandbox(t)
	kek, err := signer.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDP_KEYS_ENCRYPTION_KEY", kek)
	cases := []struct {
		args  []string
		stdin string
		check func(t *testing.T, v any)
	}{
		{args: []string{"users", "create", "--email", "j@example.com", "--name", "J", "--password-stdin"}, stdin: goodPassword + "\n",
			check: func(t *testing.T, v any) {
				if m, _ := v.(map[string]any); m["email"] != "j@example.com" || m["id"] == nil {
					t.Errorf("%v", v)
				}
			}},
		{args: []string{"users", "createsuperuser", "--email", "r@example.com", "--name", "R", "--password-stdin"}, stdin: goodPassword + "\n",
			check: func(t *testing.T, v any) {
				if m, _ := v.(map[string]any); m["is_superuser"] != true {
					t.Errorf("%v", v)
				}
			}},
		{args: []string{"users", "list"}},
		{args: []string{"keys", "generate", "--alg", "RS256"},
			check: func(t *testing.T, v any) {
				if l, _ := v.([]any); len(l) == 0 || l[0].(map[string]any)["type"] != "key.generated" {
					t.Errorf("%v", v)
				}
			}},
		{args: []string{"keys", "list"}},
		{args: []string{"keys", "rotate", "--alg", "RS256", "--force"},
			check: func(t *testing.T, v any) {
				if l, _ := v.([]any); len(l) == 0 {
					t.Errorf("%v", v)
				}
			}},
		{args: []string{"keys", "rewrap"}},
		{args: []string{"tokens", "flush"},
			check: func(t *testing.T, v any) {
				if m, _ := v.(map[string]any); m["sessions_deleted"] != 0.0 || m["throttles_deleted"] != 0.0 {
					t.Errorf("%v", v)
				}
			}},
		{args: []string{"config", "check"},
			check: func(t *testing.T, v any) {
				if m, _ := v.(map[string]any); m["ok"] != true || m["issuer"] != "http://127.0.0.1:8080" {
					t.Errorf("%v", v)
				}
			}},
		{args: []string{"config", "show"}},
		{args: []string{"migrate"}},
		{args: []string{"version"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, "-"), func(t *testing.T) {
			r := idp(t, strings.NewReader(tc.stdin), append(tc.args, "--json")...).mustSucceed(t)
			var v any
			if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
				t.Fatalf("not one JSON document: %v\n%s", err, r.stdout)
			}
			if !strings.HasSuffix(r.stdout, "\n") {
				t.Errorf("no final newline: %q", r.stdout)
			}
			if tc.check != nil {
				tc.check(t, v)
			}
		})
	}
	t.Run("config-check-problems", func(t *testing.T) {
		t.Setenv("IDP_LOG_LEVEL", "loud")
		r := idp(t, nil, "config", "check", "--json")
		var got struct {
			OK       bool     `json:"ok"`
			Problems []string `json:"problems"`
		}
		if r.err == nil || json.Unmarshal([]byte(r.stdout), &got) != nil || got.OK || len(got.Problems) != 1 || !strings.HasPrefix(got.Problems[0], "log.level") {
			t.Errorf("err %v, stdout %q", r.err, r.stdout)
		}
	})
}

// TestConfigShow: every key, its value and where it came from; secrets
// redacted.
func TestConfigShow(t *testing.T) {
	const pw = "show-pass-secret-3"
	sandbox(t)
	kek, _ := signer.GenerateKEK()
	t.Setenv("IDP_DATABASE_URL", "postgres://admin:"+pw+"@db.example.com:5432/idp")
	t.Setenv("IDP_KEYS_ENCRYPTION_KEY", kek)
	r := idp(t, nil, "config", "show", "--http-addr", "127.0.0.1:7000").mustSucceed(t)
	for _, w := range []string{
		"# file: none",
		"http.addr",
		"127.0.0.1:7000",
		"flag --http-addr",
		"postgres://admin:xxxxx@db.example.com:5432/idp",
		"env IDP_DATABASE_URL",
		`["(redacted)"]`,
		"env IDP_KEYS_ENCRYPTION_KEY",
		"tokens.access_ttl",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("config show lacks %q:\n%s", w, r.stdout)
		}
	}
	if strings.Contains(r.all(), pw) || strings.Contains(r.all(), kek) {
		t.Errorf("config show reveals a secret:\n%s", r.all())
	}
	bad := idp(t, nil, "config", "show", "--log-level", "loud")
	if bad.err == nil || !strings.Contains(bad.err.Error(), "log.level") || !strings.Contains(bad.stdout, "loud") {
		t.Errorf("invalid configuration: err %v, stdout %q: want it shown, then refused", bad.err, bad.stdout)
	}
}

// TestCLILogsOnlyWarnings: a command's own output is not interleaved with
// info log lines unless log.level asks for them.
func TestCLILogsOnlyWarnings(t *testing.T) {
	sandbox(t)
	r := idp(t, nil, "migrate").mustSucceed(t)
	if strings.Contains(r.stderr, "level=INFO") {
		t.Errorf("migrate logged at info by default:\n%s", r.stderr)
	}
	sandbox(t)
	r = idp(t, nil, "migrate", "--log-level", "info").mustSucceed(t)
	if !strings.Contains(r.stderr, "applied migration") {
		t.Errorf("--log-level info did not show the migrations:\n%s", r.stderr)
	}
}

// TestKeysRotateNamesEveryRing: without --alg every ring is rotated, and
// a refusal names each ring skipped.
func TestKeysRotateNamesEveryRing(t *testing.T) {
	migratedSandbox(t)
	kek, _ := signer.GenerateKEK()
	t.Setenv("IDP_KEYS_ENCRYPTION_KEY", kek)
	idp(t, nil, "keys", "generate", "--alg", "RS256").mustSucceed(t) // fills both rings: fresh next keys
	r := idp(t, nil, "keys", "rotate")
	if r.err == nil {
		t.Fatal("rotation of freshly published next keys succeeded")
	}
	if !strings.Contains(r.stderr, "rotating every ring: RS256, EdDSA") {
		t.Errorf("stderr %q does not say every ring is rotated", r.stderr)
	}
	for _, w := range []string{"skipped 2 of 2 rings", "  RS256: the next key has not been published long enough", "  EdDSA: the next key", "--force"} {
		if !strings.Contains(r.err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, r.err)
		}
	}
}

// TestKeysNeedTheServersDevelopmentKEK: a key command never generates
// the development KEK (keys sealed under a new one would be unreadable).
func TestKeysNeedTheServersDevelopmentKEK(t *testing.T) {
	dir := migratedSandbox(t)
	before := tree(t, dir)
	r := idp(t, nil, "keys", "generate", "--alg", "RS256")
	if r.err == nil || !strings.Contains(r.err.Error(), "no development key-encryption key at keys/kek") {
		t.Fatalf("err %v", r.err)
	}
	if after := tree(t, dir); !slices.Equal(before, after) {
		t.Errorf("files changed: %v → %v", before, after)
	}
}
