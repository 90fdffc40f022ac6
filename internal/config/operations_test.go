package config

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"
)

func TestValidateOperations(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"metrics/on", func(c *Config) { c.Metrics.Addr = "127.0.0.1:9090" }, ""},
		{"metrics/not-host-port", func(c *Config) { c.Metrics.Addr = "9090" }, `metrics.addr: "9090": must be host:port`},
		{"metrics/bad-port", func(c *Config) { c.Metrics.Addr = ":http9" }, `metrics.addr: ":http9": port must be a number`},
		{"metrics/public-port", func(c *Config) { c.Metrics.Addr = c.HTTP.Addr }, `metrics.addr: "127.0.0.1:8080": must differ from http.addr`},
		{"admin/own-listener", func(c *Config) { c.Admin.Addr = "127.0.0.1:8081" }, ""},
		{"admin/port-zero-twice", func(c *Config) { c.HTTP.Addr, c.Admin.Addr = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"admin/not-host-port", func(c *Config) { c.Admin.Addr = "8081" }, `admin.addr: "8081": must be host:port`},
		{"admin/bad-port", func(c *Config) { c.Admin.Addr = "127.0.0.1:99999" }, `admin.addr: "127.0.0.1:99999": port must be a number from 0 to 65535`},
		{"admin/public-port", func(c *Config) { c.Admin.Addr = c.HTTP.Addr }, `admin.addr: "127.0.0.1:8080": must differ from http.addr`},
		{"admin/metrics-port", func(c *Config) { c.Admin.Addr, c.Metrics.Addr = "127.0.0.1:9090", "127.0.0.1:9090" }, `admin.addr: "127.0.0.1:9090": must differ from metrics.addr`},
		{"admin/debug-port", func(c *Config) { c.Admin.Addr, c.Debug.Addr = "127.0.0.1:6060", "127.0.0.1:6060" }, `admin.addr: "127.0.0.1:6060": must differ from debug.addr`},
		{"read-header/zero", func(c *Config) { c.HTTP.ReadHeaderTimeout = 0 }, `http.read_header_timeout: "0s": must be positive`},
		{"read-header/over-read", func(c *Config) { c.HTTP.ReadHeaderTimeout = 11 * time.Second }, `http.read_header_timeout: "11s": must not exceed http.read_timeout (10s)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadOperationsFromEnv(t *testing.T) {
	c, err := Load(Sources{Environ: []string{"IDP_METRICS_ADDR=0.0.0.0:9090", "IDP_HTTP_READ_HEADER_TIMEOUT=2s"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Addr != "0.0.0.0:9090" || c.HTTP.ReadHeaderTimeout != 2*time.Second {
		t.Fatalf("loaded %+v %s", c.Metrics, c.HTTP.ReadHeaderTimeout)
	}
}

func TestEncryptionKeysFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k1 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	k2 := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	good := write("good", "# KEKs\n"+k1+"\n\n"+k2+"\n")
	c := Default()
	c.Env = EnvProduction
	c.Tokens.Issuer = "https://idp.example.com"
	c.Keys.EncryptionKeysFile = good
	if err := c.Validate(); err != nil {
		t.Fatalf("production with a KEK file: %v", err)
	}
	keks, err := c.KEKs()
	if err != nil || len(keks) != 2 || string(keks[1]) != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("KEKs = %d keys, %v", len(keks), err)
	}
	for name, tc := range map[string]struct{ path, want string }{
		"missing": {dir + "/nope", "cannot read"},
		"bad":     {write("bad", k1+"\nnot-a-key-secret\n"), "line 2: (value hidden)"},
		"empty":   {write("empty", "# nothing\n"), "holds no key"},
	} {
		c.Keys.EncryptionKeysFile = tc.path
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "not-a-key-secret") {
			t.Errorf("%s: %v, want %q without the value", name, err, tc.want)
		}
	}
}
