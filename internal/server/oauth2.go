package server

import (
	"context"
	"fmt"
	"time"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/oauth2"
	"github.com/idp/idp/internal/storage"
)

// NewClients builds the OAuth 2.0 client registry (shared with the CLI).
func NewClients(cfg config.Config, store storage.Store, now func() time.Time) (*clients.Registry, error) {
	r, err := clients.New(clients.Options{
		Store:         store,
		Audit:         store,
		Scopes:        cfg.OAuth2.Scopes,
		SecretOverlap: cfg.OAuth2.SecretOverlap,
		CacheTTL:      cfg.OAuth2.ClientCacheTTL,
		Now:           now,
	})
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	return r, nil
}

// oauth2Options wires the OAuth 2.0 surface over the server's core.
func (s *Server) oauth2Options() oauth2.Options {
	return oauth2.Options{
		Clients:      s.Clients,
		Tokens:       s.Tokens,
		Guard:        s.Guard,
		Passwords:    s.Login,
		Issuer:       s.cfg.IssuerURL(),
		MaxBodyBytes: s.cfg.HTTP.MaxBodyBytes,
		Logger:       s.log,
	}
}

// flushRevoked deletes deny-list entries of access tokens that have
// expired (part of the janitor's run).
func (s *Server) flushRevoked(ctx context.Context) error {
	n, err := s.Tokens.FlushRevoked(ctx, s.cfg.Tokens.FlushBatch)
	if n > 0 {
		s.log.Info("janitor", "revoked_tokens_deleted", n)
	}
	return err
}
