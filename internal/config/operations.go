package config

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// validateOperations checks the operations keys (http.read_header_timeout,
// metrics.*): one problem line each, as Validate's.
func (c Config) validateOperations() []string {
	var p []string
	bad := func(key string, value any, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s: %s", key, quote(key, value), fmt.Sprintf(format, args...)))
	}
	if h := c.HTTP.ReadHeaderTimeout; h <= 0 {
		bad("http.read_header_timeout", h, "must be positive")
	} else if c.HTTP.ReadTimeout > 0 && h > c.HTTP.ReadTimeout {
		bad("http.read_header_timeout", h, "must not exceed http.read_timeout (%s)", c.HTTP.ReadTimeout)
	}
	if a := c.Metrics.Addr; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil {
			bad("metrics.addr", a, "must be host:port (e.g. 127.0.0.1:9090), or empty for no metrics")
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("metrics.addr", a, "port must be a number from 0 to 65535")
		} else if a == c.HTTP.Addr && n != 0 {
			bad("metrics.addr", a, "must differ from http.addr: metrics are never served on the public port")
		}
	}
	// Each listener needs a port of its own (port 0 picks a free one).
	for _, l := range []struct{ key, addr string }{{"metrics.addr", c.Metrics.Addr}, {"debug.addr", c.Debug.Addr}} {
		if a := c.Admin.Addr; a != "" && a == l.addr && !strings.HasSuffix(a, ":0") {
			bad("admin.addr", a, "must differ from %s", l.key)
		}
	}
	if a := c.Admin.Addr; a != "" && a == c.HTTP.Addr && !strings.HasSuffix(a, ":0") {
		bad("admin.addr", a, "must differ from http.addr: set it to move the admin surface to a listener of its own, or leave it empty to serve it on http.addr")
	}
	if c.Keys.EncryptionKeysFile != "" {
		if _, err := c.fileKEKs(); err != nil {
			p = append(p, err.Error())
		}
	}
	return p
}

// fileKEKs reads keys.encryption_keys_file: one base64 KEK a line; blank
// lines and lines starting with # are skipped. Errors never quote a key.
func (c Config) fileKEKs() ([][]byte, error) {
	name := c.Keys.EncryptionKeysFile
	if name == "" {
		return nil, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("keys.encryption_keys_file: %q: cannot read: %v", name, err)
	}
	var out [][]byte
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := DecodeKEK(line)
		if err != nil {
			return nil, fmt.Errorf("keys.encryption_keys_file: %q line %d: (value hidden): %v", name, i+1, err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("keys.encryption_keys_file: %q: holds no key", name)
	}
	return out, nil
}
