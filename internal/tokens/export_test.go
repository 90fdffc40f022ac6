package tokens

import (
	"time"

	"github.com/idp/idp/internal/storage"
)

// SignAccess exposes access-token signing to the benchmarks.
func (s *Service) SignAccess(u storage.User, now time.Time) (string, error) {
	tok, _, err := s.signAccess(u, "bench-session", now)
	return tok, err
}
