package config

import "time"

// The blocks issue 10 (security hardening) added, kept together so that
// the rest of the configuration's layout can change around them.

// Sessions is how idp's own endpoints (logged-user/, sessions/,
// logout-all/, token/verify/) check that an access token's session is
// still live.
type Sessions struct {
	// RevocationPoll is how often each instance reads the sessions revoked
	// elsewhere (other instances, the CLI); a revocation takes effect on
	// every instance within it (and at once on the instance that made it).
	RevocationPoll time.Duration `mapstructure:"revocation_poll"`
	// VerifyMode is what token/verify/ checks of an access token: "strict"
	// (signature and claims, session live, user active) or "signature"
	// (signature and claims only, as the tutorial app does).
	VerifyMode string `mapstructure:"verify_mode"`
}

// Verify modes.
const (
	VerifyStrict    = "strict"
	VerifySignature = "signature"
)

// Registration limits POST register/.
type Registration struct {
	// PerIP registrations per client IP (IPv6: its /64) per PerIPWindow; 0
	// disables the per-IP limit.
	PerIP       int           `mapstructure:"per_ip"`
	PerIPWindow time.Duration `mapstructure:"per_ip_window"`
	// GlobalPerMinute registrations per instance per minute (a token bucket
	// of GlobalBurst); 0 disables the global limit.
	GlobalPerMinute int `mapstructure:"global_per_minute"`
	GlobalBurst     int `mapstructure:"global_burst"`
}

// Audit is the audit trail's retention.
type Audit struct {
	// Retention is how long audit events are kept; the janitor deletes
	// older ones in batches of tokens.flush_batch.
	Retention time.Duration `mapstructure:"retention"`
}

func hardeningDefaults(c *Config) {
	c.Sessions = Sessions{RevocationPoll: 2 * time.Second, VerifyMode: VerifyStrict}
	c.Registration = Registration{PerIP: 20, PerIPWindow: time.Minute, GlobalPerMinute: 600, GlobalBurst: 50}
	c.Audit = Audit{Retention: 90 * 24 * time.Hour}
}

func (c Config) validateHardening(bad func(key string, value any, format string, args ...any)) {
	if c.Sessions.RevocationPoll < 100*time.Millisecond || c.Sessions.RevocationPoll > 5*time.Second {
		bad("sessions.revocation_poll", c.Sessions.RevocationPoll, "must be between 100ms and 5s (revocations must reach every instance within 5 s)")
	}
	if c.Sessions.VerifyMode != VerifyStrict && c.Sessions.VerifyMode != VerifySignature {
		bad("sessions.verify_mode", c.Sessions.VerifyMode, "must be %q or %q", VerifyStrict, VerifySignature)
	}
	r := c.Registration
	if r.PerIP < 0 {
		bad("registration.per_ip", r.PerIP, "must be 0 (off) or positive")
	}
	if r.PerIP > 0 && (r.PerIPWindow <= 0 || r.PerIPWindow > c.Login.Window) {
		// Its counts are cleaned up with the login throttle's.
		bad("registration.per_ip_window", r.PerIPWindow, "must be positive and at most login.window (%s)", c.Login.Window)
	}
	if r.GlobalPerMinute < 0 {
		bad("registration.global_per_minute", r.GlobalPerMinute, "must be 0 (off) or positive")
	}
	if r.GlobalPerMinute > 0 && r.GlobalBurst < 1 {
		bad("registration.global_burst", r.GlobalBurst, "must be at least 1")
	}
	if c.Audit.Retention < 24*time.Hour {
		bad("audit.retention", c.Audit.Retention, "must be at least 24h")
	}
}
