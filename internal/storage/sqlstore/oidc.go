package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

// The OpenID Connect tables (migrations 00026–00029): pending
// authorization requests, authorization codes, consents, grant links.

var (
	_ storage.AuthorizationRequests = (*Tables)(nil)
	_ storage.AuthorizationCodes    = (*Tables)(nil)
	_ storage.Consents              = (*Tables)(nil)
	_ storage.GrantLinks            = (*Tables)(nil)
)

// CreateAuthorizationRequest inserts r.
func (t *Tables) CreateAuthorizationRequest(ctx context.Context, r storage.AuthorizationRequest) error {
	if err := CheckText(r.ID, r.ClientID); err != nil {
		return fmt.Errorf("create authorization request: %w", err)
	}
	_, err := t.exec(ctx, `INSERT INTO authorization_requests (id, client_id, data, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, r.ID, r.ClientID, r.Data, t.d.Time(r.CreatedAt), t.d.Time(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create authorization request: %w", err)
	}
	return nil
}

// GetAuthorizationRequest returns the request, or ErrNotFound.
func (t *Tables) GetAuthorizationRequest(ctx context.Context, id string) (storage.AuthorizationRequest, error) {
	var r storage.AuthorizationRequest
	if !ValidText(id) {
		return r, fmt.Errorf("get authorization request: %w", storage.ErrNotFound)
	}
	err := t.queryRow(ctx, `SELECT id, client_id, data, created_at, expires_at FROM authorization_requests WHERE id = ?`, id).
		Scan(&r.ID, &r.ClientID, &r.Data, t.d.ScanTime(&r.CreatedAt), t.d.ScanTime(&r.ExpiresAt))
	if err != nil {
		return storage.AuthorizationRequest{}, fmt.Errorf("get authorization request: %w", t.scanErr(err))
	}
	return r, nil
}

// UpdateAuthorizationRequest rewrites Data.
func (t *Tables) UpdateAuthorizationRequest(ctx context.Context, id string, data []byte) error {
	if !ValidText(id) {
		return fmt.Errorf("update authorization request: %w", storage.ErrNotFound)
	}
	res, err := t.exec(ctx, `UPDATE authorization_requests SET data = ? WHERE id = ?`, data, id)
	if err != nil {
		return fmt.Errorf("update authorization request: %w", err)
	}
	if err := affected(res); err != nil {
		return fmt.Errorf("update authorization request: %w", err)
	}
	return nil
}

// DeleteAuthorizationRequest removes it; reports whether it existed.
func (t *Tables) DeleteAuthorizationRequest(ctx context.Context, id string) (bool, error) {
	if !ValidText(id) {
		return false, nil
	}
	res, err := t.exec(ctx, `DELETE FROM authorization_requests WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("delete authorization request: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteExpiredAuthorizationRequests deletes up to limit expired requests.
func (t *Tables) DeleteExpiredAuthorizationRequests(ctx context.Context, now time.Time, limit int) (int64, error) {
	return t.deleteExpired(ctx, "authorization_requests", "id", now, limit)
}

func (t *Tables) deleteExpired(ctx context.Context, table, key string, now time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := t.exec(ctx, `DELETE FROM `+table+` WHERE `+key+` IN (
		SELECT `+key+` FROM `+table+` WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`, t.d.Time(now), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired %s: %w", table, err)
	}
	return res.RowsAffected()
}

const codeColumns = `hash, client_id, data, created_at, expires_at, redeemed_at, family_id, access_jti, access_expires_at`

// CreateAuthorizationCode inserts c.
func (t *Tables) CreateAuthorizationCode(ctx context.Context, c storage.AuthorizationCode) error {
	if err := CheckText(c.Hash, c.ClientID, c.FamilyID, c.AccessJTI); err != nil {
		return fmt.Errorf("create authorization code: %w", err)
	}
	_, err := t.exec(ctx, `INSERT INTO authorization_codes (`+codeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.ClientID, c.Data, t.d.Time(c.CreatedAt), t.d.Time(c.ExpiresAt), t.d.Time(c.RedeemedAt),
		c.FamilyID, c.AccessJTI, t.d.Time(c.AccessExpiresAt))
	if err != nil {
		return fmt.Errorf("create authorization code: %w", err)
	}
	return nil
}

// RedeemAuthorizationCode marks a live code redeemed (one conditional
// UPDATE) and returns it.
func (t *Tables) RedeemAuthorizationCode(ctx context.Context, hash string, at time.Time) (storage.AuthorizationCode, error) {
	if !ValidText(hash) {
		return storage.AuthorizationCode{}, fmt.Errorf("redeem authorization code: %w", storage.ErrNotFound)
	}
	res, err := t.exec(ctx, `UPDATE authorization_codes SET redeemed_at = ?
		WHERE hash = ? AND redeemed_at IS NULL AND expires_at > ?`, t.d.Time(at), hash, t.d.Time(at))
	if err != nil {
		return storage.AuthorizationCode{}, fmt.Errorf("redeem authorization code: %w", err)
	}
	if err := affected(res); err != nil {
		return storage.AuthorizationCode{}, fmt.Errorf("redeem authorization code: %w", err)
	}
	return t.GetAuthorizationCode(ctx, hash)
}

// GetAuthorizationCode returns the code, or ErrNotFound.
func (t *Tables) GetAuthorizationCode(ctx context.Context, hash string) (storage.AuthorizationCode, error) {
	var c storage.AuthorizationCode
	if !ValidText(hash) {
		return c, fmt.Errorf("get authorization code: %w", storage.ErrNotFound)
	}
	err := t.queryRow(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE hash = ?`, hash).Scan(
		&c.Hash, &c.ClientID, &c.Data, t.d.ScanTime(&c.CreatedAt), t.d.ScanTime(&c.ExpiresAt),
		t.d.ScanTime(&c.RedeemedAt), &c.FamilyID, &c.AccessJTI, t.d.ScanTime(&c.AccessExpiresAt))
	if err != nil {
		return storage.AuthorizationCode{}, fmt.Errorf("get authorization code: %w", t.scanErr(err))
	}
	return c, nil
}

// SetAuthorizationCodeIssued records what the redemption issued.
func (t *Tables) SetAuthorizationCodeIssued(ctx context.Context, hash, familyID, accessJTI string, accessExpiresAt time.Time) error {
	if err := CheckText(hash, familyID, accessJTI); err != nil {
		return fmt.Errorf("set authorization code issued: %w", err)
	}
	res, err := t.exec(ctx, `UPDATE authorization_codes SET family_id = ?, access_jti = ?, access_expires_at = ? WHERE hash = ?`,
		familyID, accessJTI, t.d.Time(accessExpiresAt), hash)
	if err != nil {
		return fmt.Errorf("set authorization code issued: %w", err)
	}
	if err := affected(res); err != nil {
		return fmt.Errorf("set authorization code issued: %w", err)
	}
	return nil
}

// DeleteExpiredAuthorizationCodes deletes up to limit expired codes.
func (t *Tables) DeleteExpiredAuthorizationCodes(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	return t.deleteExpired(ctx, "authorization_codes", "hash", cutoff, limit)
}

// PutConsent inserts or replaces the consent of (user, client).
func (t *Tables) PutConsent(ctx context.Context, c storage.Consent) error {
	if err := CheckText(append([]string{c.ClientID}, c.Scopes...)...); err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	_, err := t.exec(ctx, `INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, list(c.Scopes), t.d.Time(c.GrantedAt))
	if err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	return nil
}

// GetConsent returns the consent, or ErrNotFound.
func (t *Tables) GetConsent(ctx context.Context, userID int64, clientID string) (storage.Consent, error) {
	c := storage.Consent{UserID: userID, ClientID: clientID}
	if !ValidText(clientID) {
		return storage.Consent{}, fmt.Errorf("get consent: %w", storage.ErrNotFound)
	}
	err := t.queryRow(ctx, `SELECT scopes, granted_at FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID).
		Scan(listColumn{&c.Scopes}, t.d.ScanTime(&c.GrantedAt))
	if err != nil {
		return storage.Consent{}, fmt.Errorf("get consent: %w", t.scanErr(err))
	}
	return c, nil
}

// ListConsents returns the user's consents by client id.
func (t *Tables) ListConsents(ctx context.Context, userID int64) ([]storage.Consent, error) {
	rows, err := t.query(ctx, `SELECT client_id, scopes, granted_at FROM consents WHERE user_id = ? ORDER BY client_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	defer rows.Close()
	out := []storage.Consent{}
	for rows.Next() {
		c := storage.Consent{UserID: userID}
		if err := rows.Scan(&c.ClientID, listColumn{&c.Scopes}, t.d.ScanTime(&c.GrantedAt)); err != nil {
			return nil, fmt.Errorf("list consents: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// WithdrawConsent deletes the consent and revokes the families linked to
// the client in one transaction (grant_links_client_idx finds them).
func (t *Tables) WithdrawConsent(ctx context.Context, userID int64, clientID string, at time.Time, reason string) (int64, error) {
	if !ValidText(clientID) {
		return 0, fmt.Errorf("withdraw consent: %w", storage.ErrNotFound)
	}
	tx, err := t.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("withdraw consent: %w", t.d.Translate(err))
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, t.d.rebind(`DELETE FROM consents WHERE user_id = ? AND client_id = ?`), userID, clientID)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return 0, fmt.Errorf("withdraw consent: %w", t.d.Translate(err))
	}
	res, err = tx.ExecContext(ctx, t.d.rebind(`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ?
		WHERE user_id = ? AND revoked_at IS NULL
		AND id IN (SELECT family_id FROM grant_links WHERE user_id = ? AND client_id = ?)`),
		t.d.Time(at), CleanText(reason), userID, userID, clientID)
	if err != nil {
		return 0, fmt.Errorf("withdraw consent: revoke families: %w", t.d.Translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("withdraw consent: revoke families: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("withdraw consent: %w", t.d.Translate(err))
	}
	return n, nil
}

const linkColumns = `family_id, browser_session_id, client_id, user_id, auth_time, created_at`

// CreateGrantLink inserts l.
func (t *Tables) CreateGrantLink(ctx context.Context, l storage.GrantLink) error {
	if err := CheckText(l.FamilyID, l.BrowserSessionID, l.ClientID); err != nil {
		return fmt.Errorf("create grant link: %w", err)
	}
	_, err := t.exec(ctx, `INSERT INTO grant_links (`+linkColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		l.FamilyID, l.BrowserSessionID, l.ClientID, l.UserID, t.d.Time(l.AuthTime), t.d.Time(l.CreatedAt))
	if err != nil {
		return fmt.Errorf("create grant link: %w", err)
	}
	return nil
}

func (t *Tables) scanLink(row interface{ Scan(...any) error }) (storage.GrantLink, error) {
	var l storage.GrantLink
	err := row.Scan(&l.FamilyID, &l.BrowserSessionID, &l.ClientID, &l.UserID, t.d.ScanTime(&l.AuthTime), t.d.ScanTime(&l.CreatedAt))
	return l, err
}

// GetGrantLink returns the family's link, or ErrNotFound.
func (t *Tables) GetGrantLink(ctx context.Context, familyID string) (storage.GrantLink, error) {
	if !ValidText(familyID) {
		return storage.GrantLink{}, fmt.Errorf("get grant link: %w", storage.ErrNotFound)
	}
	l, err := t.scanLink(t.queryRow(ctx, `SELECT `+linkColumns+` FROM grant_links WHERE family_id = ?`, familyID))
	if err != nil {
		return storage.GrantLink{}, fmt.Errorf("get grant link: %w", t.scanErr(err))
	}
	return l, nil
}

func (t *Tables) listLinks(ctx context.Context, where string, args ...any) ([]storage.GrantLink, error) {
	rows, err := t.query(ctx, `SELECT `+linkColumns+` FROM grant_links WHERE `+where+` ORDER BY family_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list grant links: %w", err)
	}
	defer rows.Close()
	out := []storage.GrantLink{}
	for rows.Next() {
		l, err := t.scanLink(rows)
		if err != nil {
			return nil, fmt.Errorf("list grant links: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// ListGrantLinksBySession returns the links of a browser session.
func (t *Tables) ListGrantLinksBySession(ctx context.Context, sid string) ([]storage.GrantLink, error) {
	if !ValidText(sid) {
		return []storage.GrantLink{}, nil
	}
	return t.listLinks(ctx, `browser_session_id = ?`, sid)
}

// ListGrantLinksByClient returns the links of (user, client).
func (t *Tables) ListGrantLinksByClient(ctx context.Context, userID int64, clientID string) ([]storage.GrantLink, error) {
	if !ValidText(clientID) {
		return []storage.GrantLink{}, nil
	}
	return t.listLinks(ctx, `user_id = ? AND client_id = ?`, userID, clientID)
}

// MoveGrantLinks re-links the links of browser session from to to.
func (t *Tables) MoveGrantLinks(ctx context.Context, from, to string) (int64, error) {
	if err := CheckText(from, to); err != nil {
		return 0, fmt.Errorf("move grant links: %w", err)
	}
	res, err := t.exec(ctx, `UPDATE grant_links SET browser_session_id = ? WHERE browser_session_id = ?`, to, from)
	if err != nil {
		return 0, fmt.Errorf("move grant links: %w", err)
	}
	return res.RowsAffected()
}

// DeleteGrantLinksBefore deletes up to limit links created at or before cutoff.
func (t *Tables) DeleteGrantLinksBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := t.exec(ctx, `DELETE FROM grant_links WHERE family_id IN (
		SELECT family_id FROM grant_links WHERE created_at <= ? ORDER BY created_at LIMIT ?)`, t.d.Time(cutoff), limit)
	if err != nil {
		return 0, fmt.Errorf("delete grant links: %w", err)
	}
	return res.RowsAffected()
}
