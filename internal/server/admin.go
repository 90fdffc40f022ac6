package server

import "github.com/idp/idp/internal/admin"

// adminOptions wires the admin surface over the server's core.
func (s *Server) adminOptions() admin.Options {
	return admin.Options{
		Users:        s.Users,
		Tokens:       s.Tokens,
		Signer:       s.Signer,
		Clients:      s.Clients,
		Audit:        s.store,
		AccessAlg:    s.cfg.Keys.AccessAlgorithm,
		RefreshAlg:   s.cfg.Keys.RefreshAlgorithm,
		MaxBodyBytes: s.cfg.HTTP.MaxBodyBytes,
		Logger:       s.log,
	}
}
