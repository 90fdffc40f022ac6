package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Login starts a new family for u and returns its first token pair.
func (s *Service) Login(ctx context.Context, u storage.User, c Client) (Pair, error) {
	if !u.IsActive {
		return Pair{}, ErrNoActiveAccount
	}
	key, err := s.keys.SigningKey(s.refreshAlg)
	if err != nil {
		return Pair{}, fmt.Errorf("login: %w", err)
	}
	now := storeTime(s.now())
	f := storage.Family{
		ID:         newFamilyID(),
		UserID:     u.ID,
		CreatedAt:  now,
		ExpiresAt:  now.Add(s.sessionTTL),
		CurrentJTI: newJTI(),
		CurrentKID: key.KID,
		RotatedAt:  now,
		UserAgent:  cleanText(c.UserAgent, maxUserAgent),
		IP:         cleanText(c.IP, 64),
	}
	if err := s.families.CreateFamily(ctx, f); err != nil {
		return Pair{}, fmt.Errorf("login: create family: %w", err)
	}
	return s.pair(f, u, now)
}

// pair signs the current refresh token of f and a fresh access token.
func (s *Service) pair(f storage.Family, u storage.User, now time.Time) (Pair, error) {
	refresh, err := s.signRefresh(f)
	if err != nil {
		return Pair{}, err
	}
	access, _, err := s.signAccess(u, f.ID, now)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Access: access, Refresh: refresh}, nil
}

// Refresh rotates the family of a refresh token and returns the new pair.
// The happy path is one conditional update. When it does not match, the
// family row decides: the immediate predecessor within the grace window
// gets the current refresh token again (identical bytes) with a new access
// token; any other rotated-out token revokes the family (reuse detected).
// A refresh token issued to an OAuth 2.0 client refreshes only at
// /oauth2/token (RefreshGrant), bound to that client.
func (s *Service) Refresh(ctx context.Context, refresh string, c Client) (Pair, error) {
	cl, err := s.parse(refresh, kindRefresh)
	if err != nil {
		return Pair{}, err
	}
	if cl.clientID != "" {
		return Pair{}, invalid("refresh token of an OAuth 2.0 client")
	}
	f, u, now, err := s.rotate(ctx, cl, c)
	if err != nil {
		return Pair{}, err
	}
	return s.pair(f, u, now)
}

// rotate checks the user of a verified refresh token and rotates its
// family, or finds the grace answer: it returns the family whose current
// token to hand out.
func (s *Service) rotate(ctx context.Context, cl *claims, c Client) (storage.Family, storage.User, time.Time, error) {
	fail := func(err error) (storage.Family, storage.User, time.Time, error) {
		return storage.Family{}, storage.User{}, time.Time{}, err
	}
	u, err := s.users.GetUser(ctx, cl.userID)
	if errors.Is(err, storage.ErrNotFound) {
		return fail(&reasonError{ErrNoActiveAccount, "user deleted"})
	}
	if err != nil {
		return fail(fmt.Errorf("refresh: load user: %w", err))
	}
	if !u.IsActive {
		return fail(&reasonError{ErrNoActiveAccount, "user inactive"})
	}
	if u.PasswordChangedAt.Unix() > cl.authTime.Unix() {
		return fail(&reasonError{ErrBlacklisted, "password changed since login"})
	}

	key, err := s.keys.SigningKey(s.refreshAlg)
	if err != nil {
		return fail(fmt.Errorf("refresh: %w", err))
	}
	now := storeTime(s.now())
	f, err := s.families.RotateFamily(ctx, storage.Rotation{
		FamilyID: cl.familyID,
		OldJTI:   cl.jti,
		NewJTI:   newJTI(),
		NewKID:   key.KID,
		At:       now,
	})
	if err == nil {
		if f.UserID != u.ID {
			// The rotation matched a genuine family and jti, but the token
			// names another user: revoked at once, nothing issued.
			return fail(s.forged(ctx, f, cl, c, now))
		}
		return f, u, now, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return fail(fmt.Errorf("refresh: rotate family: %w", err))
	}
	f, err = s.notRotated(ctx, cl, c, now)
	if err != nil {
		return fail(err)
	}
	return f, u, now, nil
}

// notRotated decides why a rotation did not happen, from the family row:
// the family to answer from (grace), or the error.
func (s *Service) notRotated(ctx context.Context, cl *claims, c Client, now time.Time) (storage.Family, error) {
	f, err := s.families.GetFamily(ctx, cl.familyID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Family{}, invalid("unknown family")
	}
	if err != nil {
		return storage.Family{}, fmt.Errorf("refresh: load family: %w", err)
	}
	switch {
	case f.UserID != cl.userID && f.RevokedAt.IsZero():
		return storage.Family{}, s.forged(ctx, f, cl, c, now)
	case f.UserID != cl.userID:
		return storage.Family{}, invalid("family of another user")
	case !f.RevokedAt.IsZero():
		return storage.Family{}, &reasonError{ErrBlacklisted, "family revoked"}
	case !now.Before(f.ExpiresAt):
		return storage.Family{}, invalid("session expired")
	case cl.jti == f.CurrentJTI:
		// The update refused a live, current token: it changed under us
		// (revoked or expired in between). Not reuse.
		return storage.Family{}, invalid("family changed during refresh")
	case s.inGrace(cl.jti, f, now):
		return f, nil
	}
	revoked, err := s.families.RevokeFamily(ctx, f.ID, now, "reuse_detected")
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Family{}, fmt.Errorf("refresh: revoke family after reuse: %w", err)
	}
	if revoked {
		s.log.WarnContext(ctx, "refresh token reuse detected; family revoked",
			"user_id", f.UserID, "family_id", f.ID, "generation", f.Generation, "ip", c.IP)
		s.recordAudit(ctx, storage.AuditEvent{
			At:        now,
			Type:      "refresh.reuse_detected",
			UserID:    f.UserID,
			FamilyID:  f.ID,
			KID:       cl.kid,
			IP:        cleanText(c.IP, 64),
			UserAgent: cleanText(c.UserAgent, maxUserAgent),
			Detail:    fmt.Sprintf("rotated-out refresh token presented at generation %d; family revoked", f.Generation),
		})
	}
	return storage.Family{}, &reasonError{ErrBlacklisted, "reuse detected"}
}

// inGrace: jti is the immediate predecessor of f's current token and the
// rotation happened at most RefreshGrace ago.
func (s *Service) inGrace(jti string, f storage.Family, now time.Time) bool {
	return s.grace > 0 && f.PreviousJTI != "" && jti == f.PreviousJTI && now.Sub(f.RotatedAt) <= s.grace
}

func (s *Service) recordAudit(ctx context.Context, e storage.AuditEvent) {
	if s.audit == nil {
		return
	}
	if err := s.audit.RecordAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "record audit event", "type", e.Type, "err", err)
	}
}

// VerifyAccess verifies an access token and returns its claims. An OAuth
// 2.0 access token revoked by its client (RFC 7009) is invalid, and with
// the session check (Options.Revoked) so is a token of a revoked session.
func (s *Service) VerifyAccess(ctx context.Context, token string) (AccessClaims, error) {
	cl, err := s.parseCached(token, kindAccess)
	if err != nil {
		return AccessClaims{}, err
	}
	if !cl.hasUserID {
		return AccessClaims{}, ErrNoUserID
	}
	if revoked, err := s.isRevoked(ctx, cl); err != nil || revoked {
		if err == nil {
			err = invalid("revoked")
		}
		return AccessClaims{}, err
	}
	if s.revoked != nil {
		if err := s.revoked.Live(ctx, cl.sessionID); err != nil {
			return AccessClaims{}, err
		}
	}
	return AccessClaims{
		UserID:    cl.userID,
		SessionID: cl.sessionID,
		Email:     cl.email,
		JTI:       cl.jti,
		KID:       cl.kid,
		IssuedAt:  cl.issuedAt,
		ExpiresAt: cl.expires,
	}, nil
}

// Verify checks a token of either type (token/verify/). A refresh token
// must also still be usable: its family live and its jti the current one
// or the predecessor within the grace window.
//
// An access token, unless Options.VerifySignatureOnly, must also belong to
// a live session (with Options.Revoked) of an active user.
func (s *Service) Verify(ctx context.Context, token string) error {
	cl, err := s.parseCached(token, kindAny)
	if err != nil {
		return err
	}
	if cl.kind == kindAccess {
		if s.sigOnly {
			return nil
		}
		return s.accessLive(ctx, cl)
	}
	return s.checkFamily(ctx, cl)
}

// checkFamily: a verified refresh token's family is live and its jti the
// current one or the predecessor within the grace window.
func (s *Service) checkFamily(ctx context.Context, cl *claims) error {
	f, err := s.families.GetFamily(ctx, cl.familyID)
	if errors.Is(err, storage.ErrNotFound) {
		return invalid("unknown family")
	}
	if err != nil {
		return fmt.Errorf("verify: load family: %w", err)
	}
	now := s.now()
	switch {
	case f.UserID != cl.userID && f.RevokedAt.IsZero():
		return s.forged(ctx, f, cl, Client{}, storeTime(now))
	case f.UserID != cl.userID:
		return invalid("family of another user")
	case !f.RevokedAt.IsZero():
		return &reasonError{ErrBlacklisted, "family revoked"}
	case !now.Before(f.ExpiresAt):
		return invalid("session expired")
	case cl.jti != f.CurrentJTI && !s.inGrace(cl.jti, f, now):
		return &reasonError{ErrBlacklisted, "rotated out"}
	}
	return nil
}

// accessLive: the access token's session is live and its user active.
func (s *Service) accessLive(ctx context.Context, cl *claims) error {
	if s.revoked != nil {
		if err := s.revoked.Live(ctx, cl.sessionID); err != nil {
			return err
		}
	}
	if !cl.hasUserID {
		return ErrNoUserID
	}
	u, err := s.users.GetUser(ctx, cl.userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return invalid("user deleted")
	case err != nil:
		return fmt.Errorf("verify: load user: %w", err)
	case !u.IsActive:
		return invalid("user inactive")
	}
	return nil
}
