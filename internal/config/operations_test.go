package config

import (
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
