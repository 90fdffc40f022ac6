package server

import (
	"net/http"
	"net/netip"

	"github.com/idp/idp/internal/admin"
	"github.com/idp/idp/internal/websession"
)

// adminOptions wires the admin surface (API and console) over the
// server's core. The console's browser session is its own cookie,
// idp_admin on Path /admin, SameSite=Strict.
func (s *Server) adminOptions(proxies []netip.Prefix) admin.Options {
	return admin.Options{
		Users:    s.Users,
		Tokens:   s.Tokens,
		Signer:   s.Signer,
		Clients:  s.Clients,
		Audit:    s.store,
		Consents: s.oidc.flow,
		Sessions: websession.New(s.store, websession.Options{
			CookieName:  "idp_admin",
			Path:        "/admin",
			SameSite:    http.SameSiteStrictMode,
			IdleTimeout: s.cfg.Admin.ConsoleIdleTimeout,
			Lifetime:    s.cfg.Admin.ConsoleLifetime,
			Proxies:     websession.Proxies(proxies),
			Now:         s.now,
		}),
		Login:        s.Login,
		AccessAlg:    s.cfg.Keys.AccessAlgorithm,
		RefreshAlg:   s.cfg.Keys.RefreshAlgorithm,
		MaxBodyBytes: s.cfg.HTTP.MaxBodyBytes,
		Logger:       s.log,
		Now:          s.now,
	}
}
