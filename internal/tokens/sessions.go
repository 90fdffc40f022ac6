package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

// A session is a refresh-token family: one login. These are the
// operations on sessions other than refreshing: logout, listing and
// revoking them, and the janitor.

// ErrNoSession: no live session with that id belongs to the user.
var ErrNoSession = errors.New("no such session")

// Session is a live login session as its user sees it.
type Session struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	ExpiresAt time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	// Current marks the session of the access token that asked.
	Current bool `json:"current"`
}

// Logout revokes the session of a refresh token (SimpleJWT's
// token/blacklist/). A token of a session already revoked is
// ErrBlacklisted; a rotated-out token still ends its session.
func (s *Service) Logout(ctx context.Context, refresh string, c Client) error {
	cl, err := s.parse(refresh, kindRefresh)
	if err != nil {
		return err
	}
	// The family row is authoritative: a token naming another user than
	// the family's is a forgery (see forged).
	f, err := s.families.GetFamily(ctx, cl.familyID)
	if errors.Is(err, storage.ErrNotFound) {
		return invalid("unknown family")
	}
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if f.UserID != cl.userID {
		if !f.RevokedAt.IsZero() {
			return invalid("family of another user")
		}
		return s.forged(ctx, f, cl, c, storeTime(s.now()))
	}
	revoked, err := s.families.RevokeFamily(ctx, cl.familyID, storeTime(s.now()), "logout")
	if errors.Is(err, storage.ErrNotFound) {
		return invalid("unknown family")
	}
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if !revoked {
		return &reasonError{ErrBlacklisted, "family already revoked"}
	}
	s.familyRevoked(ctx, cl.userID, cl.familyID, "logout", c)
	return nil
}

// Sessions lists the user's live sessions, newest first; current is the
// session id of the caller's access token.
func (s *Service) Sessions(ctx context.Context, userID int64, current string) ([]Session, error) {
	now := storeTime(s.now())
	fams, err := s.families.ListLiveFamilies(ctx, userID, storage.LiveFamilies{Now: now, IdleCutoff: now.Add(-s.refreshTTL)})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]Session, 0, len(fams))
	for _, f := range fams {
		exp := f.RotatedAt.Add(s.refreshTTL)
		if f.ExpiresAt.Before(exp) {
			exp = f.ExpiresAt
		}
		out = append(out, Session{
			ID: f.ID, Created: f.CreatedAt, LastUsed: f.RotatedAt, ExpiresAt: exp,
			UserAgent: f.UserAgent, IP: f.IP, Current: f.ID == current,
		})
	}
	return out, nil
}

// RevokeSession ends one of the user's live sessions.
func (s *Service) RevokeSession(ctx context.Context, userID int64, sid string, c Client) error {
	f, err := s.families.GetFamily(ctx, sid)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && f.UserID != userID) {
		return ErrNoSession
	}
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	revoked, err := s.families.RevokeFamily(ctx, sid, storeTime(s.now()), "session_revoked")
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !revoked) {
		return ErrNoSession
	}
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	s.familyRevoked(ctx, userID, sid, "session_revoked", c)
	return nil
}

// RevokeAllSessions ends every session of the user (logout everywhere)
// and returns how many were live.
func (s *Service) RevokeAllSessions(ctx context.Context, userID int64, c Client) (int64, error) {
	n, err := s.families.RevokeUserFamilies(ctx, userID, storeTime(s.now()), "logout_all")
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	if n > 0 {
		s.familyRevoked(ctx, userID, "", fmt.Sprintf("logout_all (%d sessions)", n), c)
	}
	return n, nil
}

// Flush deletes the sessions that can never be used again; see
// FlushSessions.
func (s *Service) Flush(ctx context.Context, batch int, revokedRetention time.Duration) (int64, error) {
	return FlushSessions(ctx, s.families, s.now(), s.refreshTTL, revokedRetention, batch)
}

// FlushSessions deletes, batch rows per statement, the sessions that can
// never be used again at now — past their absolute lifetime, or idle for
// longer than refreshTTL (their current token has expired) — and revoked
// ones older than revokedRetention. It returns how many it deleted.
func FlushSessions(ctx context.Context, families storage.Families, now time.Time, refreshTTL, revokedRetention time.Duration, batch int) (int64, error) {
	if batch < 1 {
		return 0, fmt.Errorf("flush sessions: batch %d must be positive", batch)
	}
	now = storeTime(now)
	c := storage.FamilyCleanup{Now: now, IdleCutoff: now.Add(-refreshTTL), RevokedCutoff: now.Add(-revokedRetention)}
	var total int64
	for {
		n, err := families.DeleteDeadFamilies(ctx, c, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("flush sessions: %w", err)
		}
		if n < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// familyRevoked logs and audits a session's end.
func (s *Service) familyRevoked(ctx context.Context, userID int64, familyID, reason string, c Client) {
	s.log.InfoContext(ctx, "session revoked", "user_id", userID, "family_id", familyID, "reason", reason)
	s.recordAudit(ctx, storage.AuditEvent{
		At: storeTime(s.now()), Type: "family.revoked", UserID: userID, FamilyID: familyID,
		IP: cleanText(c.IP, 64), UserAgent: cleanText(c.UserAgent, maxUserAgent), Detail: reason,
	})
}
