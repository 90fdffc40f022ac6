package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestDeriveIssuer(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{":8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000"},
		{"[::]:9000", "http://127.0.0.1:9000"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"localhost:8080", "http://localhost:8080"},
		{"idp.internal:80", "http://idp.internal:80"},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			if got := DeriveIssuer(tc.addr); got != tc.want {
				t.Errorf("DeriveIssuer(%q) = %q, want %q", tc.addr, got, tc.want)
			}
			c := Default()
			c.HTTP.Addr = tc.addr
			if got := c.IssuerURL(); got != tc.want || !c.IssuerDerived() {
				t.Errorf("IssuerURL() = %q (derived %t)", got, c.IssuerDerived())
			}
		})
	}
	c := Default()
	c.HTTP.Addr = ":8080"
	c.Tokens.Issuer = "https://idp.example.com"
	if c.IssuerURL() != "https://idp.example.com" || c.IssuerDerived() {
		t.Errorf("a configured issuer is not used as it is: %q", c.IssuerURL())
	}
}

func TestStoreName(t *testing.T) {
	c := Default()
	if got := c.StoreName(); got != "sqlite data/idp.db" {
		t.Errorf("default store %q", got)
	}
	c.Database.URL = "postgres://admin:hunter2@db.example.com:5432/idp?sslmode=require"
	if got := c.StoreName(); got != "postgres db.example.com:5432/idp" {
		t.Errorf("postgres store %q", got)
	}
}

func TestResolveOrigins(t *testing.T) {
	file := writeFile(t, "http:\n  addr: 127.0.0.1:9000\nlog:\n  level: warn\n")
	fs := pflag.NewFlagSet("idp", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse([]string{"--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	l, err := Resolve(Sources{File: file, Flags: fs, Environ: []string{"IDP_TOKENS_ACCESS_TTL=1m", "IDP_KEYS_ENCRYPTION_KEY=" + strings.Repeat("A", 43) + "="}})
	if err != nil {
		t.Fatal(err)
	}
	if l.File != file {
		t.Errorf("File %q, want %q", l.File, file)
	}
	want := map[string]string{
		"http.addr":            "file " + file,
		"log.level":            "flag --log-level",
		"tokens.access_ttl":    "env IDP_TOKENS_ACCESS_TTL",
		"keys.encryption_keys": "env IDP_KEYS_ENCRYPTION_KEY",
		"tokens.refresh_ttl":   "default",
	}
	for key, src := range want {
		if got := l.Origins[key].String(); got != src {
			t.Errorf("%s: origin %q, want %q", key, got, src)
		}
	}
	if !l.IsDefault("tokens.refresh_ttl") || l.IsDefault("log.level") {
		t.Error("IsDefault wrong")
	}
	if l.Log.Level != "debug" {
		t.Errorf("flag did not win: %q", l.Log.Level)
	}

	none, err := Resolve(Sources{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if none.File != "" {
		t.Errorf("no file read, File %q", none.File)
	}
}

func TestSettingsRedactSecrets(t *testing.T) {
	const pw, kek = "db-pass-secret-9", "Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg="
	l, err := Resolve(Sources{Environ: []string{
		"IDP_DATABASE_URL=postgres://admin:" + pw + "@db.example.com:5432/idp",
		"IDP_KEYS_ENCRYPTION_KEYS=" + kek + "," + kek,
	}})
	if err != nil {
		t.Fatal(err)
	}
	settings := l.Settings()
	b, _ := json.Marshal(settings)
	if strings.Contains(string(b), pw) || strings.Contains(string(b), kek) {
		t.Fatalf("settings reveal a secret: %s", b)
	}
	byKey := map[string]Setting{}
	for _, s := range settings {
		byKey[s.Key] = s
	}
	if got := byKey["database.url"].Value; got != "postgres://admin:xxxxx@db.example.com:5432/idp" {
		t.Errorf("database.url shown as %v", got)
	}
	if got := byKey["keys.encryption_keys"].Text(); got != `["(redacted)" "(redacted)"]` {
		t.Errorf("keys.encryption_keys shown as %s", got)
	}
	if got := byKey["tokens.access_ttl"]; got.Value != "5m0s" || got.Source != "default" {
		t.Errorf("tokens.access_ttl shown as %+v", got)
	}
	if len(settings) != len(leavesOf(reflect.TypeOf(Config{}), "")) {
		t.Errorf("%d settings, want one per key", len(settings))
	}
}

func TestCORSValidation(t *testing.T) {
	cases := []struct {
		origins []string
		problem string // "" = valid
	}{
		{origins: []string{"https://app.example.com", "http://localhost:3000", "*"}},
		{origins: []string{"https://app.example.com/"}, problem: "not even a trailing /"},
		{origins: []string{"app.example.com"}, problem: "must be an origin"},
		{origins: []string{"https://*.example.com"}, problem: "wildcards are not supported"},
		{origins: []string{"https://App.example.com"}, problem: "must be lower case"},
		{origins: []string{"ftp://example.com"}, problem: "must be an origin"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.origins, ","), func(t *testing.T) {
			c := Default()
			c.CORS.AllowedOrigins = tc.origins
			err := c.Validate()
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var p *Problems
			if !errors.As(err, &p) || !strings.Contains(err.Error(), "cors.allowed_origins[0]") || !strings.Contains(err.Error(), tc.problem) {
				t.Fatalf("error %v, want one naming cors.allowed_origins[0] with %q", err, tc.problem)
			}
		})
	}
}
