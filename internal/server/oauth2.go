package server

import (
	"fmt"
	"time"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
)

// NewClients builds the OAuth 2.0 client registry (shared with the CLI).
func NewClients(cfg config.Config, store storage.Store, now func() time.Time) (*clients.Registry, error) {
	r, err := clients.New(clients.Options{
		Store:         store,
		Audit:         store,
		Scopes:        cfg.OAuth2.Scopes,
		SecretOverlap: cfg.OAuth2.SecretOverlap,
		Now:           now,
	})
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	return r, nil
}
