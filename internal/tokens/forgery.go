package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

// The family row is authoritative: a refresh token's user must be its
// family's owner. A validly signed refresh token that names another user
// can only come from someone holding a refresh signing key, so it is
// treated as a forgery: the family is revoked (its owner logs in again)
// and the event audited, and the token is refused as invalid.

// forged revokes f after a refresh token of it named user claimed, and
// returns the error to answer.
func (s *Service) forged(ctx context.Context, f storage.Family, cl *claims, c Client, now time.Time) error {
	revoked, err := s.families.RevokeFamily(ctx, f.ID, now, "forgery_detected")
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("revoke family after forgery: %w", err)
	}
	s.log.WarnContext(ctx, "refresh token names another user than its family; family revoked",
		"family_user_id", f.UserID, "token_user_id", cl.userID, "family_id", f.ID, "kid", cl.kid, "ip", c.IP)
	if revoked || err == nil {
		s.recordAudit(ctx, storage.AuditEvent{
			At:        now,
			Type:      "refresh.forgery_detected",
			UserID:    f.UserID,
			FamilyID:  f.ID,
			KID:       cl.kid,
			IP:        cleanText(c.IP, 64),
			UserAgent: cleanText(c.UserAgent, maxUserAgent),
			Detail:    fmt.Sprintf("validly signed refresh token names user %d; family revoked", cl.userID),
		})
	}
	return invalid("family of another user (forgery)")
}
