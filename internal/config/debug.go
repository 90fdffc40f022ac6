package config

import "net"

// Debug is the separate debug listener: Go's net/http/pprof profiles,
// never on the public listener. Off by default.
type Debug struct {
	// Addr is host:port for the debug listener; empty: none. Bind it to
	// loopback (127.0.0.1:6060): profiles reveal internals and cost CPU.
	Addr string `mapstructure:"addr"`
}

// defaultDebug is the debug block of Default.
func defaultDebug() Debug { return Debug{Addr: ""} }

// validate reports the debug block's problems through bad.
func (d Debug) validate(bad func(key string, value any, format string, args ...any)) {
	if d.Addr == "" {
		return
	}
	if _, _, err := net.SplitHostPort(d.Addr); err != nil {
		bad("debug.addr", d.Addr, "must be host:port (e.g. 127.0.0.1:6060) or empty for none")
	}
}
