package tokens

import (
	"context"
	"errors"
	"fmt"

	"github.com/idp/idp/internal/storage"
)

// EndSession ends a live session whoever it belongs to (an admin's
// action) and returns its user. ErrNoSession if there is no live session
// with that id.
func (s *Service) EndSession(ctx context.Context, sid string, c Client) (int64, error) {
	f, err := s.families.GetFamily(ctx, sid)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, ErrNoSession
	}
	if err != nil {
		return 0, fmt.Errorf("end session: %w", err)
	}
	if err := s.RevokeSession(ctx, f.UserID, sid, c); err != nil {
		return 0, err
	}
	return f.UserID, nil
}

// SessionOwner returns the user of a session, or ErrNoSession.
func (s *Service) SessionOwner(ctx context.Context, sid string) (int64, error) {
	f, err := s.families.GetFamily(ctx, sid)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, ErrNoSession
	}
	if err != nil {
		return 0, fmt.Errorf("session owner: %w", err)
	}
	return f.UserID, nil
}
