package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

// RevokeToken lists t.JTI; a jti already listed keeps its first entry.
func (t *Tables) RevokeToken(ctx context.Context, r storage.RevokedToken) error {
	if err := CheckText(r.JTI, r.ClientID); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	_, err := t.exec(ctx, `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING`,
		r.JTI, r.ClientID, t.d.Time(r.ExpiresAt), t.d.Time(r.RevokedAt))
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// IsTokenRevoked reports whether jti is listed.
func (t *Tables) IsTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if !ValidText(jti) {
		return false, nil
	}
	var n int64
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?`, jti).Scan(&n); err != nil {
		return false, fmt.Errorf("check revoked token: %w", t.scanErr(err))
	}
	return n > 0, nil
}

// DeleteExpiredRevokedTokens deletes up to limit entries of expired tokens,
// oldest first (revoked_tokens_expires_idx).
func (t *Tables) DeleteExpiredRevokedTokens(ctx context.Context, now time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := t.exec(ctx, `DELETE FROM revoked_tokens WHERE jti IN (
		SELECT jti FROM revoked_tokens WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
		t.d.Time(now), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired revoked tokens: %w", err)
	}
	return res.RowsAffected()
}
