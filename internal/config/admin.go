package config

import "time"

// Admin configures the staff surface: /admin/api/ and the console at
// /admin/ (issue 13).
type Admin struct {
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
	if a.ConsoleIdleTimeout <= 0 {
		bad("admin.console_idle_timeout", a.ConsoleIdleTimeout, "must be positive")
	}
	if a.ConsoleLifetime <= 0 {
		bad("admin.console_lifetime", a.ConsoleLifetime, "must be positive")
	} else if a.ConsoleIdleTimeout > a.ConsoleLifetime {
		bad("admin.console_idle_timeout", a.ConsoleIdleTimeout, "must not exceed admin.console_lifetime (%s)", a.ConsoleLifetime)
	}
}
