package server

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/login"
	"github.com/idp/idp/internal/oauth2"
	"github.com/idp/idp/internal/storage"
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

// flushOIDC deletes expired authorization requests and codes, dead
// browser sessions and grant links older than any family can live (part
// of the janitor's run).
func (s *Server) flushOIDC(ctx context.Context) error {
	return flushOIDCStore(ctx, s.cfg, s.store, s.now(), s.log)
}

// flushOIDCStore is flushOIDC over a store (also `idp tokens flush`).
func flushOIDCStore(ctx context.Context, cfg config.Config, store storage.Store, now time.Time, log *slog.Logger) error {
	batch := cfg.Tokens.FlushBatch
	flow := authorize.New(authorize.Options{Store: store, Now: func() time.Time { return now }})
	n, err := flow.Flush(ctx, batch)
	if err != nil {
		return err
	}
	m, err := store.DeleteDeadBrowserSessions(ctx, now, batch)
	if err != nil {
		return err
	}
	l, err := store.DeleteGrantLinksBefore(ctx, now.Add(-cfg.Tokens.SessionTTL-cfg.Tokens.RevokedRetention), batch)
	if n+m+l > 0 {
		log.Info("janitor", "authorization_state_deleted", n, "browser_sessions_deleted", m, "grant_links_deleted", l)
	}
	return err
}
