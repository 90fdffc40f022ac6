package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/idp/idp/internal/config"
)

// Startup is what serve knows about a start beside the configuration.
type Startup struct {
	// Version is the binary's one-line version.
	Version string
	// Listener is the address actually listened on.
	Listener net.Addr
	// AdminListener is the admin listener's address (admin.addr), nil
	// when the admin surface is served on Listener.
	AdminListener net.Addr
	// IssuerDerived: tokens.issuer was not configured, it was derived
	// from the listen address.
	IssuerDerived bool
	// DevKEK is the development KEK's file, "" when KEKs are configured.
	DevKEK string
	// Created lists what this start created ("store data/idp.db", …).
	Created []string
}

// listenURL is a URL that reaches the listener from this machine, and a
// note when it listens on every interface.
func listenURL(addr net.Addr) (string, string) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String(), ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "http://" + net.JoinHostPort("127.0.0.1", port), "every interface, port " + port
	}
	return "http://" + net.JoinHostPort(host, port), ""
}

// Announce says what this start serves: one block of text on w, or with
// log.format json one structured log line (so log collectors get no
// free-form text).
func (s *Server) Announce(w io.Writer, st Startup) {
	cfg := s.cfg
	issuer := strings.TrimSuffix(cfg.IssuerURL(), "/")
	listen, every := listenURL(st.Listener)
	store := cfg.StoreName()
	if cfg.Database.URL == "" {
		if abs, err := filepath.Abs(cfg.Database.SQLitePath); err == nil && abs != cfg.Database.SQLitePath {
			store += " (" + abs + ")"
		}
	}
	issuerNote := "tokens.issuer"
	if st.IssuerDerived {
		issuerNote = "derived from http.addr; set tokens.issuer to the URL clients use"
	}
	admin, adminNote := issuer+"/admin/", ""
	if st.AdminListener != nil {
		u, _ := listenURL(st.AdminListener)
		admin, adminNote = u+"/admin/", "admin.addr; not served on the public listener"
	}
	kek := "configured (keys.encryption_keys)"
	if st.DevKEK != "" {
		kek = "DEVELOPMENT key in " + st.DevKEK + " (not for production: set IDP_KEYS_ENCRYPTION_KEY)"
	}
	if cfg.Log.Format == "json" {
		s.log.Info("started",
			slog.String("version", st.Version), slog.String("env", cfg.Env),
			slog.String("listen", listen), slog.String("issuer", issuer), slog.Bool("issuer_derived", st.IssuerDerived),
			slog.String("discovery", issuer+"/.well-known/openid-configuration"),
			slog.String("jwks", issuer+"/.well-known/jwks.json"),
			slog.String("admin", admin),
			slog.String("store", store), slog.Bool("development_kek", st.DevKEK != ""),
			slog.String("rs256", s.rsaImpl),
			slog.Any("created", st.Created))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s\n", st.Version, cfg.Env)
	row := func(k, v, note string) {
		if note != "" {
			v += "  (" + note + ")"
		}
		fmt.Fprintf(&b, "  %-10s %s\n", k, v)
	}
	row("listening", listen, every)
	row("issuer", issuer, issuerNote+"; tokens are bound to it")
	row("discovery", issuer+"/.well-known/openid-configuration", "")
	row("jwks", issuer+"/.well-known/jwks.json", "")
	row("api", issuer+cfg.HTTP.APIPrefix+"/", "")
	row("admin", admin, adminNote)
	row("store", store, "")
	row("kek", kek, "")
	row("rs256", s.rsaImpl, "keys.rsa_implementation")
	if len(st.Created) > 0 {
		row("created", strings.Join(st.Created, ", "), "first run")
	}
	if cfg.Env == config.EnvDevelopment {
		row("try", "curl -s "+listen+cfg.HTTP.APIPrefix+"/register/ -d 'name=Alice&email=alice@example.com&password=correct-horse-42'", "")
	}
	io.WriteString(w, b.String())
}
