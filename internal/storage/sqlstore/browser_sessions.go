package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

var _ storage.BrowserSessions = (*Tables)(nil)

const browserSessionColumns = `id, secret_hash, user_id, auth_time, created_at, last_seen_at,
	idle_expires_at, expires_at, ended_at, user_agent, ip`

// CreateBrowserSession inserts s. ErrConflict if the id exists.
func (t *Tables) CreateBrowserSession(ctx context.Context, s storage.BrowserSession) error {
	if err := CheckText(s.ID, s.SecretHash); err != nil {
		return fmt.Errorf("create browser session: %w", err)
	}
	_, err := t.exec(ctx, `INSERT INTO browser_sessions (`+browserSessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.SecretHash, s.UserID, t.d.Time(s.AuthTime), t.d.Time(s.CreatedAt), t.d.Time(s.LastSeenAt),
		t.d.Time(s.IdleExpiresAt), t.d.Time(s.ExpiresAt), t.d.Time(s.EndedAt),
		CleanText(s.UserAgent), CleanText(s.IP))
	if err != nil {
		return fmt.Errorf("create browser session: %w", err)
	}
	return nil
}

// GetBrowserSession returns the session, or ErrNotFound.
func (t *Tables) GetBrowserSession(ctx context.Context, id string) (storage.BrowserSession, error) {
	var s storage.BrowserSession
	if !ValidText(id) {
		return s, fmt.Errorf("get browser session: %w", storage.ErrNotFound)
	}
	err := t.queryRow(ctx, `SELECT `+browserSessionColumns+` FROM browser_sessions WHERE id = ?`, id).Scan(
		&s.ID, &s.SecretHash, &s.UserID, t.d.ScanTime(&s.AuthTime), t.d.ScanTime(&s.CreatedAt),
		t.d.ScanTime(&s.LastSeenAt), t.d.ScanTime(&s.IdleExpiresAt), t.d.ScanTime(&s.ExpiresAt),
		t.d.ScanTime(&s.EndedAt), &s.UserAgent, &s.IP)
	if err != nil {
		return storage.BrowserSession{}, fmt.Errorf("get browser session: %w", t.scanErr(err))
	}
	return s, nil
}

// TouchBrowserSession is one conditional UPDATE of a live session.
func (t *Tables) TouchBrowserSession(ctx context.Context, id string, at, idleExpires time.Time) error {
	if !ValidText(id) {
		return fmt.Errorf("touch browser session: %w", storage.ErrNotFound)
	}
	res, err := t.exec(ctx, `UPDATE browser_sessions SET last_seen_at = ?,
		idle_expires_at = CASE WHEN expires_at < ? THEN expires_at ELSE ? END
		WHERE id = ? AND ended_at IS NULL AND idle_expires_at > ? AND expires_at > ?`,
		t.d.Time(at), t.d.Time(idleExpires), t.d.Time(idleExpires), id, t.d.Time(at), t.d.Time(at))
	if err != nil {
		return fmt.Errorf("touch browser session: %w", err)
	}
	if err := affected(res); err != nil {
		return fmt.Errorf("touch browser session: %w", err)
	}
	return nil
}

// EndBrowserSession ends a live session.
func (t *Tables) EndBrowserSession(ctx context.Context, id string, at time.Time) (bool, error) {
	if !ValidText(id) {
		return false, fmt.Errorf("end browser session: %w", storage.ErrNotFound)
	}
	res, err := t.exec(ctx, `UPDATE browser_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL`, t.d.Time(at), id)
	if err != nil {
		return false, fmt.Errorf("end browser session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return n > 0, err
	}
	if _, err := t.GetBrowserSession(ctx, id); err != nil {
		return false, fmt.Errorf("end browser session: %w", err)
	}
	return false, nil
}

// EndUserBrowserSessions ends every live session of the user.
func (t *Tables) EndUserBrowserSessions(ctx context.Context, userID int64, at time.Time) (int64, error) {
	res, err := t.exec(ctx, `UPDATE browser_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL`, t.d.Time(at), userID)
	if err != nil {
		return 0, fmt.Errorf("end user browser sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteDeadBrowserSessions deletes up to limit dead sessions.
func (t *Tables) DeleteDeadBrowserSessions(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	c := t.d.Time(cutoff)
	res, err := t.exec(ctx, `DELETE FROM browser_sessions WHERE id IN (
		SELECT id FROM browser_sessions WHERE ended_at <= ? OR idle_expires_at <= ? OR expires_at <= ? LIMIT ?)`,
		c, c, c, limit)
	if err != nil {
		return 0, fmt.Errorf("delete dead browser sessions: %w", err)
	}
	return res.RowsAffected()
}
