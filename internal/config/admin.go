package config

import (
	"net"
	"strconv"
	"time"
)

// Admin configures the staff surface: /admin/api/ and the console at
// /admin/ (issue 13).
type Admin struct {
	// Addr, if set, is the host:port of a listener of its own for the
	// admin API and console: they are then not served on http.addr (its
	// /admin paths answer 404), and this listener serves only them and
	// /healthz, /readyz. Empty: both are served on http.addr.
	Addr string `mapstructure:"addr"`
	// ConsoleIdleTimeout ends a console session unused that long.
	ConsoleIdleTimeout time.Duration `mapstructure:"console_idle_timeout"`
	// ConsoleLifetime ends a console session that long after login.
	ConsoleLifetime time.Duration `mapstructure:"console_lifetime"`
}

// defaultAdmin is the admin block of Default.
func defaultAdmin() Admin {
	return Admin{ConsoleIdleTimeout: 30 * time.Minute, ConsoleLifetime: 8 * time.Hour}
}

// validate reports the admin block's problems through bad.
func (a Admin) validate(bad func(key string, value any, format string, args ...any)) {
	if a.Addr != "" {
		if _, port, err := net.SplitHostPort(a.Addr); err != nil {
			bad("admin.addr", a.Addr, "must be host:port (e.g. 127.0.0.1:8081), or empty to serve the admin surface on http.addr")
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("admin.addr", a.Addr, "port must be a number from 0 to 65535")
		}
	}
	if a.ConsoleIdleTimeout <= 0 {
		bad("admin.console_idle_timeout", a.ConsoleIdleTimeout, "must be positive")
	}
	if a.ConsoleLifetime <= 0 {
		bad("admin.console_lifetime", a.ConsoleLifetime, "must be positive")
	} else if a.ConsoleIdleTimeout > a.ConsoleLifetime {
		bad("admin.console_idle_timeout", a.ConsoleIdleTimeout, "must not exceed admin.console_lifetime (%s)", a.ConsoleLifetime)
	}
}
