package config

import (
	"fmt"
	"net"
	"strconv"
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
	return p
}
