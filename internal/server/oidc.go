package server

import (
	"context"
	"net/netip"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/login"
	"github.com/idp/idp/internal/oauth2"
	"github.com/idp/idp/internal/websession"
)

// oidcParts are the OpenID Connect core (authorize flow state) and the
// SSO browser session, shared by the oauth2 and login surfaces.
type oidcParts struct {
	flow     *authorize.Service
	sessions *websession.Manager
}

func (s *Server) newOIDC(proxies []netip.Prefix) oidcParts {
	o := s.cfg.OIDC
	return oidcParts{
		flow: authorize.New(authorize.Options{Store: s.store, RequestTTL: o.RequestTTL, CodeTTL: o.CodeTTL, Now: s.now}),
		sessions: websession.New(s.store, websession.Options{
			CookieName: o.SessionCookie, IdleTimeout: o.SessionIdleTimeout, Lifetime: o.SessionLifetime,
			AnonymousLifetime: o.RequestTTL, Proxies: websession.Proxies(proxies), Now: s.now,
		}),
	}
}

// oauth2OIDC is the oauth2 surface's OpenID Connect part.
func (s *Server) oauth2OIDC(p oidcParts) oauth2.OIDC {
	return oauth2.OIDC{
		Flow: p.flow, Accounts: s.Users, IDTokens: s.Tokens, Sessions: p.sessions,
		LoginPath: login.LoginPath, ConsentPath: login.ConsentPath, EndSessionPath: login.EndSessionPath,
		IDTokenTTL: s.cfg.OIDC.IDTokenTTL,
	}
}

// mountLogin adds the hosted login pages.
func (s *Server) mountLogin(e *echo.Echo, p oidcParts) {
	login.Mount(e, login.Options{
		Flow: p.flow, Sessions: p.sessions, Passwords: s.Login, Clients: s.Clients, Accounts: s.Users,
		IDTokens: s.Tokens, ProductName: s.cfg.OIDC.ProductName, ResumePath: "/oauth2/authorize/resume",
		MaxBodyBytes: s.cfg.HTTP.MaxBodyBytes, Logger: s.log,
	})
}

// flushOIDC deletes expired authorization requests and codes and dead
// browser sessions (part of the janitor's run).
func (s *Server) flushOIDC(ctx context.Context) error {
	n, err := s.oidc.flow.Flush(ctx, s.cfg.Tokens.FlushBatch)
	if err != nil {
		return err
	}
	m, err := s.store.DeleteDeadBrowserSessions(ctx, s.now(), s.cfg.Tokens.FlushBatch)
	if n+m > 0 {
		s.log.Info("janitor", "authorization_state_deleted", n, "browser_sessions_deleted", m)
	}
	return err
}
