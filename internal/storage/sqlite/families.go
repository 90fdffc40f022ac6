package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

const familyColumns = `id, user_id, created_at, expires_at, current_jti, current_kid, generation,
	previous_jti, rotated_at, revoked_at, revoke_reason, user_agent, ip`

func scanFamily(row scanner) (storage.Family, error) {
	var f storage.Family
	err := row.Scan(&f.ID, &f.UserID, microTime{&f.CreatedAt}, microTime{&f.ExpiresAt},
		&f.CurrentJTI, &f.CurrentKID, &f.Generation, &f.PreviousJTI, microTime{&f.RotatedAt},
		microTime{&f.RevokedAt}, &f.RevokeReason, &f.UserAgent, &f.IP)
	return f, err
}

// CreateFamily inserts f. ErrConflict if the id exists, ErrNotFound if the
// user does not.
func (s *Store) CreateFamily(ctx context.Context, f storage.Family) error {
	if err := checkText(f.ID, f.CurrentJTI, f.CurrentKID, f.PreviousJTI); err != nil {
		return fmt.Errorf("create family: %w", err)
	}
	f.RevokeReason, f.UserAgent, f.IP = cleanText(f.RevokeReason), cleanText(f.UserAgent), cleanText(f.IP)
	_, err := s.w.ExecContext(ctx, `INSERT INTO refresh_families (`+familyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.UserID, micros(f.CreatedAt), micros(f.ExpiresAt), f.CurrentJTI, f.CurrentKID,
		f.Generation, f.PreviousJTI, micros(f.RotatedAt), micros(f.RevokedAt), f.RevokeReason,
		f.UserAgent, f.IP)
	if err != nil {
		return fmt.Errorf("create family: %w", translate(err))
	}
	return nil
}

// GetFamily returns the family with that id.
func (s *Store) GetFamily(ctx context.Context, id string) (storage.Family, error) {
	if !validText(id) {
		return storage.Family{}, fmt.Errorf("get family: %w", storage.ErrNotFound)
	}
	f, err := scanFamily(s.r.QueryRowContext(ctx, `SELECT `+familyColumns+` FROM refresh_families WHERE id = ?`, id))
	if err != nil {
		return storage.Family{}, fmt.Errorf("get family: %w", translate(err))
	}
	return f, nil
}

// RotateFamily is one conditional UPDATE … RETURNING; zero rows is
// ErrNotFound.
func (s *Store) RotateFamily(ctx context.Context, r storage.Rotation) (storage.Family, error) {
	if !validText(r.FamilyID, r.OldJTI) {
		return storage.Family{}, fmt.Errorf("rotate family: %w", storage.ErrNotFound)
	}
	if err := checkText(r.NewJTI, r.NewKID); err != nil {
		return storage.Family{}, fmt.Errorf("rotate family: %w", err)
	}
	at := micros(r.At)
	f, err := scanFamily(s.w.QueryRowContext(ctx, `UPDATE refresh_families
		SET previous_jti = current_jti, current_jti = ?, current_kid = ?,
			generation = generation + 1, rotated_at = ?
		WHERE id = ? AND current_jti = ? AND revoked_at IS NULL AND expires_at > ?
		RETURNING `+familyColumns,
		r.NewJTI, r.NewKID, at, r.FamilyID, r.OldJTI, at))
	if err != nil {
		return storage.Family{}, fmt.Errorf("rotate family: %w", translate(err))
	}
	return f, nil
}

// RevokeFamily marks the family revoked if it is not already.
func (s *Store) RevokeFamily(ctx context.Context, id string, at time.Time, reason string) (bool, error) {
	if !validText(id) {
		return false, fmt.Errorf("revoke family: %w", storage.ErrNotFound)
	}
	reason = cleanText(reason)
	res, err := s.w.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ?
		WHERE id = ? AND revoked_at IS NULL`, micros(at), reason, id)
	if err == nil {
		err = rowsAffected(res)
	}
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("revoke family: %w", err)
	}
	// Nothing revoked: already revoked, or no such family.
	var one int
	if err := s.w.QueryRowContext(ctx, `SELECT 1 FROM refresh_families WHERE id = ?`, id).Scan(&one); err != nil {
		return false, fmt.Errorf("revoke family: %w", translate(err))
	}
	return false, nil
}

// RevokeFamiliesByKID revokes every live family whose current token kid signed.
func (s *Store) RevokeFamiliesByKID(ctx context.Context, kid string, at time.Time, reason string) (int64, error) {
	if checkText(kid) != nil {
		return 0, nil
	}
	res, err := s.w.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ?
		WHERE current_kid = ? AND revoked_at IS NULL`, micros(at), cleanText(reason), kid)
	if err != nil {
		return 0, fmt.Errorf("revoke families signed by key %s: %w", kid, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke families signed by key %s: %w", kid, err)
	}
	return n, nil
}

// RevokeUserFamilies revokes every unrevoked family of the user.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID int64, at time.Time, reason string) (int64, error) {
	reason = cleanText(reason)
	res, err := s.w.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ?
		WHERE user_id = ? AND revoked_at IS NULL`, micros(at), reason, userID)
	if err != nil {
		return 0, fmt.Errorf("revoke families of user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke families of user %d: %w", userID, err)
	}
	return n, nil
}

// ListLiveFamilies returns the user's families that can still refresh,
// newest first; refresh_families_user_idx finds them.
func (s *Store) ListLiveFamilies(ctx context.Context, userID int64, f storage.LiveFamilies) ([]storage.Family, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+familyColumns+` FROM refresh_families
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND rotated_at > ?
		ORDER BY created_at DESC, id`, userID, f.Now.UnixMicro(), f.IdleCutoff.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("list live families of user %d: %w", userID, err)
	}
	defer rows.Close()
	families := []storage.Family{}
	for rows.Next() {
		fam, err := scanFamily(rows)
		if err != nil {
			return nil, fmt.Errorf("list live families of user %d: %w", userID, err)
		}
		families = append(families, fam)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list live families of user %d: %w", userID, err)
	}
	return families, nil
}

// DeleteDeadFamilies is one DELETE of at most limit rows, whose candidates
// come from three disjoint index range scans (live_expires, idle, revoked:
// see migration 00004) under one LIMIT: it reads about limit index entries
// whatever the backlog. The write connection serialises it with every
// other write, so the candidates cannot change before they are deleted.
func (s *Store) DeleteDeadFamilies(ctx context.Context, c storage.FamilyCleanup, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM refresh_families WHERE rowid IN (
			SELECT rowid FROM refresh_families WHERE revoked_at IS NULL AND expires_at <= ?1
			UNION ALL
			SELECT rowid FROM refresh_families WHERE revoked_at IS NULL AND created_at <= ?2 AND rotated_at <= ?2 AND expires_at > ?1
			UNION ALL
			SELECT rowid FROM refresh_families WHERE revoked_at IS NOT NULL AND revoked_at <= ?3
			LIMIT ?4)`,
		c.Now.UnixMicro(), c.IdleCutoff.UnixMicro(), c.RevokedCutoff.UnixMicro(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete dead families: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete dead families: %w", err)
	}
	return n, nil
}
