package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "idp.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShippedFileRepeatsTheDefaults(t *testing.T) {
	cfg, err := Load(Sources{File: "../../configs/idp.yaml", Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("configs/idp.yaml differs from Default():\n file: %+v\n code: %+v", cfg, Default())
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestShippedFileDocumentsEveryKey(t *testing.T) {
	body, err := os.ReadFile("../../configs/idp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leavesOf(reflect.TypeOf(Config{}), "") {
		last := l.key[strings.LastIndex(l.key, ".")+1:]
		if !strings.Contains(string(body), last+":") {
			t.Errorf("configs/idp.yaml does not mention %s", l.key)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "http:\n  addr: 0.0.0.0:9000\ntokens:\n  access_ttl: 10m\n  refresh_ttl: 48h\n")
	tests := []struct {
		name    string
		environ []string
		flags   []string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "file-over-defaults",
			check: func(t *testing.T, c Config) {
				if c.HTTP.Addr != "0.0.0.0:9000" || c.Tokens.AccessTTL != 10*time.Minute || c.Tokens.RefreshTTL != 48*time.Hour {
					t.Errorf("got %q %s %s", c.HTTP.Addr, c.Tokens.AccessTTL, c.Tokens.RefreshTTL)
				}
				if c.Tokens.UserIDClaim != "user_id" {
					t.Errorf("untouched key lost its default: %q", c.Tokens.UserIDClaim)
				}
			},
		},
		{
			name:    "env-over-file",
			environ: []string{"IDP_HTTP_ADDR=127.0.0.1:7000", "IDP_TOKENS_ACCESS_TTL=1m", "IDP_TOKENS_AUDIENCE=a, b", "IDP_DATABASE_URL=postgres://x@h/db"},
			check: func(t *testing.T, c Config) {
				if c.HTTP.Addr != "127.0.0.1:7000" || c.Tokens.AccessTTL != time.Minute || c.Database.URL != "postgres://x@h/db" {
					t.Errorf("got %q %s %q", c.HTTP.Addr, c.Tokens.AccessTTL, c.Database.URL)
				}
				if !reflect.DeepEqual(c.Tokens.Audience, []string{"a", "b"}) {
					t.Errorf("audience %q", c.Tokens.Audience)
				}
			},
		},
		{
			name:    "flag-over-env",
			environ: []string{"IDP_HTTP_ADDR=127.0.0.1:7000"},
			flags:   []string{"--http-addr=127.0.0.1:6000"},
			check: func(t *testing.T, c Config) {
				if c.HTTP.Addr != "127.0.0.1:6000" {
					t.Errorf("got %q", c.HTTP.Addr)
				}
			},
		},
		{
			name:    "singular-kek-env",
			environ: []string{"IDP_KEYS_ENCRYPTION_KEY=" + strings.Repeat("A", 43) + "="},
			check: func(t *testing.T, c Config) {
				if len(c.Keys.EncryptionKeys) != 1 {
					t.Errorf("keys %d", len(c.Keys.EncryptionKeys))
				}
				keks, err := c.KEKs()
				if err != nil || len(keks) != 1 || len(keks[0]) != 32 {
					t.Errorf("KEKs: %v %v", keks, err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			BindFlags(fs)
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			environ := append([]string{}, tc.environ...)
			c, err := Load(Sources{File: file, Flags: fs, Environ: environ})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestLoadReportsEveryBadValue(t *testing.T) {
	file := writeFile(t, "tokens:\n  access_ttl: 5x\n  bogus: 1\nhttp:\n  max_body_bytes: lots\n")
	_, err := Load(Sources{File: file, Environ: []string{"IDP_DATABASE_MAX_CONNS=many", "IDP_PASSWORDS_ARGON2_PARALLELISM=300"}})
	var p *Problems
	if !errors.As(err, &p) {
		t.Fatalf("want *Problems, got %v", err)
	}
	want := []string{
		`tokens.access_ttl: "5x": not a duration`,
		`http.max_body_bytes: "lots": not an integer`,
		`database.max_conns: "many": not an integer`,
		`passwords.argon2.parallelism: "300": out of range`,
		`tokens.bogus: unknown key`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // substrings, all of which must be reported
	}{
		{"defaults", func(c *Config) {}, nil},
		{"bad-env", func(c *Config) { c.Env = "staging" }, []string{`env: "staging"`}},
		{"bad-addr", func(c *Config) { c.HTTP.Addr = "8080" }, []string{`http.addr: "8080"`}},
		{"bad-prefix", func(c *Config) { c.HTTP.APIPrefix = "api/" }, []string{`http.api_prefix: "api/"`}},
		{"access-not-shorter", func(c *Config) { c.Tokens.AccessTTL = 48 * time.Hour }, []string{`tokens.access_ttl: "48h0m0s": must be at most 24h`, "shorter than tokens.refresh_ttl"}},
		{"zero-ttl", func(c *Config) { c.Tokens.RefreshTTL = 0 }, []string{`tokens.refresh_ttl: "0s": must be positive`}},
		{"bad-alg", func(c *Config) { c.Keys.AccessAlgorithm = "HS256" }, []string{`keys.access_algorithm: "HS256"`}},
		{"nondeterministic-refresh-alg", func(c *Config) { c.Keys.RefreshAlgorithm = "ES256" }, []string{`keys.refresh_algorithm: "ES256"`}},
		{"registration-window-beyond-login-window", func(c *Config) { c.Registration.PerIPWindow = time.Hour }, []string{`registration.per_ip_window: "1h0m0s": must be positive and at most login.window`}},
		{"bad-verify-mode", func(c *Config) { c.Sessions.VerifyMode = "lax" }, []string{`sessions.verify_mode: "lax"`}},
		{"revocation-poll-too-slow", func(c *Config) { c.Sessions.RevocationPoll = time.Minute }, []string{`sessions.revocation_poll: "1m0s"`}},
		{"short-audit-retention", func(c *Config) { c.Audit.Retention = time.Hour }, []string{`audit.retention: "1h0m0s"`}},
		{"same-alg-for-both-rings", func(c *Config) { c.Keys.RefreshAlgorithm = "RS256" }, []string{`keys.refresh_algorithm: "RS256": must differ from keys.access_algorithm`}},
		{"prepublish-too-short", func(c *Config) { c.Keys.PrePublish = 5 * time.Minute }, []string{`keys.prepublish: "5m0s": must be at least 2 × jwks.max_age + keys.check_interval (10m30s)`}},
		{"rotation-shorter-than-prepublish", func(c *Config) { c.Keys.RotationPeriod = 30 * time.Minute }, []string{`keys.rotation_period: "30m0s": must not be shorter than keys.prepublish (1h0m0s)`}},
		{"short-periods-for-tests", func(c *Config) {
			c.JWKS.MaxAge, c.Keys.CheckInterval, c.Keys.PrePublish, c.Keys.RotationPeriod = time.Second, 100*time.Millisecond, 3*time.Second, 5*time.Second
		}, nil},
		{"bad-rsa", func(c *Config) { c.Keys.RSABits = 1024 }, []string{`keys.rsa_bits: "1024"`}},
		{"bad-rsa-implementation", func(c *Config) { c.Keys.RSAImplementation = "boring" }, []string{`keys.rsa_implementation: "boring"`}},
		{"weak-argon", func(c *Config) { c.Passwords.Argon2.MemoryKiB = 1024 }, []string{`passwords.argon2.memory_kib: "1024"`}},
		{"reserved-claim", func(c *Config) { c.Tokens.UserIDClaim = "sub" }, []string{`tokens.user_id_claim: "sub"`}},
		{"bad-kek-hidden", func(c *Config) { c.Keys.EncryptionKeys = []string{"c2VjcmV0"} }, []string{"keys.encryption_keys[0]: (value hidden): must decode to 32 bytes"}},
		{"bad-db-url-hidden", func(c *Config) { c.Database.URL = "mysql://u:pw@h/db" }, []string{"database.url: (value hidden)"}},
		{"bad-proxy", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.1"} }, []string{`http.trusted_proxies[0]: "10.0.0.1"`}},
		{"production-needs-issuer-and-kek", func(c *Config) { c.Env = EnvProduction }, []string{"tokens.issuer", "keys.encryption_keys: (empty): required in production"}},
		{"production-https", func(c *Config) {
			c.Env = EnvProduction
			c.Tokens.Issuer = "http://idp.example.com"
			c.Keys.EncryptionKeys = []string{strings.Repeat("A", 43) + "="}
		}, []string{`tokens.issuer: "http://idp.example.com": must be https in production`}},
		{"all-at-once", func(c *Config) {
			c.Log.Level = "loud"
			c.Log.Format = "xml"
			c.JWKS.MaxAge = -time.Second
		}, []string{`log.level: "loud"`, `log.format: "xml"`, `jwks.max_age: "-1s"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("expected problems")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("a secret leaked into the message: %v", err)
			}
		})
	}
}

func TestIssuerURL(t *testing.T) {
	c := Default()
	if got := c.IssuerURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("derived issuer %q", got)
	}
	c.Tokens.Issuer = "https://idp.example.com"
	if got := c.IssuerURL(); got != "https://idp.example.com" {
		t.Errorf("issuer %q", got)
	}
}

func TestLoadValidReportsBoth(t *testing.T) {
	_, err := LoadValid(Sources{Environ: []string{"IDP_TOKENS_ACCESS_TTL=5x", "IDP_KEYS_ACCESS_ALGORITHM=HS256", "IDP_LOG_LEVEL=loud"}, File: writeFile(t, "")})
	if err == nil {
		t.Fatal("expected problems")
	}
	msg := err.Error()
	for _, w := range []string{`tokens.access_ttl: "5x"`, `keys.access_algorithm: "HS256"`, `log.level: "loud"`} {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in %s", w, msg)
		}
	}
	if strings.Count(msg, "tokens.access_ttl") != 1 {
		t.Errorf("a key that failed decoding was validated too:\n%s", msg)
	}
}
