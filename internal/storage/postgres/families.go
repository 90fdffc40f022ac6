package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
)

const familyColumns = `id, user_id, created_at, expires_at, current_jti, current_kid, generation,
	previous_jti, rotated_at, revoked_at, revoke_reason, user_agent, ip`

func scanFamily(row pgx.Row) (storage.Family, error) {
	var f storage.Family
	err := row.Scan(&f.ID, &f.UserID, tsz{&f.CreatedAt}, tsz{&f.ExpiresAt},
		&f.CurrentJTI, &f.CurrentKID, &f.Generation, &f.PreviousJTI, tsz{&f.RotatedAt},
		tsz{&f.RevokedAt}, &f.RevokeReason, &f.UserAgent, &f.IP)
	return f, err
}

// CreateFamily inserts f. ErrConflict if the id exists, ErrNotFound if the
// user does not.
func (s *Store) CreateFamily(ctx context.Context, f storage.Family) error {
	if err := checkText(f.ID, f.CurrentJTI, f.CurrentKID, f.PreviousJTI); err != nil {
		return fmt.Errorf("create family: %w", err)
	}
	f.RevokeReason, f.UserAgent, f.IP = cleanText(f.RevokeReason), cleanText(f.UserAgent), cleanText(f.IP)
	_, err := s.pool.Exec(ctx, `INSERT INTO refresh_families (`+familyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		f.ID, f.UserID, ts(f.CreatedAt), ts(f.ExpiresAt), f.CurrentJTI, f.CurrentKID,
		f.Generation, f.PreviousJTI, ts(f.RotatedAt), ts(f.RevokedAt), f.RevokeReason,
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
	f, err := scanFamily(s.pool.QueryRow(ctx, `SELECT `+familyColumns+` FROM refresh_families WHERE id = $1`, id))
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
	f, err := scanFamily(s.pool.QueryRow(ctx, `UPDATE refresh_families
		SET previous_jti = current_jti, current_jti = $1, current_kid = $2,
			generation = generation + 1, rotated_at = $3
		WHERE id = $4 AND current_jti = $5 AND revoked_at IS NULL AND expires_at > $3
		RETURNING `+familyColumns,
		r.NewJTI, r.NewKID, ts(r.At), r.FamilyID, r.OldJTI))
	if err != nil {
		return storage.Family{}, fmt.Errorf("rotate family: %w", translate(err))
	}
	return f, nil
}

// RevokeFamily marks the family revoked if it is not already, in one
// statement that also tells "already revoked" from "no such family".
func (s *Store) RevokeFamily(ctx context.Context, id string, at time.Time, reason string) (bool, error) {
	if !validText(id) {
		return false, fmt.Errorf("revoke family: %w", storage.ErrNotFound)
	}
	reason = cleanText(reason)
	var revoked bool
	err := s.pool.QueryRow(ctx, `WITH revoked AS (
			UPDATE refresh_families SET revoked_at = $2, revoke_reason = $3
			WHERE id = $1 AND revoked_at IS NULL RETURNING id)
		SELECT EXISTS (SELECT 1 FROM revoked) FROM refresh_families WHERE id = $1`,
		id, ts(at), reason).Scan(&revoked)
	if err != nil {
		return false, fmt.Errorf("revoke family: %w", translate(err))
	}
	return revoked, nil
}

// RevokeFamiliesByKID revokes every live family whose current token kid signed.
func (s *Store) RevokeFamiliesByKID(ctx context.Context, kid string, at time.Time, reason string) (int64, error) {
	if checkText(kid) != nil {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE refresh_families SET revoked_at = $1, revoke_reason = $2
		WHERE current_kid = $3 AND revoked_at IS NULL`, ts(at), cleanText(reason), kid)
	if err != nil {
		return 0, fmt.Errorf("revoke families signed by key %s: %w", kid, err)
	}
	return tag.RowsAffected(), nil
}

// RevokeUserFamilies revokes every unrevoked family of the user.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID int64, at time.Time, reason string) (int64, error) {
	reason = cleanText(reason)
	tag, err := s.pool.Exec(ctx, `UPDATE refresh_families SET revoked_at = $1, revoke_reason = $2
		WHERE user_id = $3 AND revoked_at IS NULL`, ts(at), reason, userID)
	if err != nil {
		return 0, fmt.Errorf("revoke families of user %d: %w", userID, err)
	}
	return tag.RowsAffected(), nil
}

// ListLiveFamilies returns the user's families that can still refresh,
// newest first; refresh_families_user_idx finds them.
func (s *Store) ListLiveFamilies(ctx context.Context, userID int64, f storage.LiveFamilies) ([]storage.Family, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+familyColumns+` FROM refresh_families
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND rotated_at > $3
		ORDER BY created_at DESC, id`, userID, f.Now, f.IdleCutoff)
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

// deadFamilies is DeleteDeadFamilies' criterion ($1 now, $2 idle cutoff,
// $3 revoked cutoff).
const deadFamilies = `((revoked_at IS NULL AND (expires_at <= $1 OR rotated_at <= $2))
	OR (revoked_at IS NOT NULL AND revoked_at <= $3))`

// DeleteDeadFamilies is one DELETE of at most limit rows. Its candidates
// come from three disjoint index range scans, oldest first, each with its
// own LIMIT (which makes the planner walk the index and stop, rather than
// build a bitmap of the whole backlog), under one LIMIT: it reads about
// limit index entries and rows whatever the backlog, and never scans the
// table (migrations 00004 and 00035 have the indexes; idle families are
// found by created_at, which a refresh never changes, so that refreshes
// stay HOT updates). The ids are gathered into an
// array (an InitPlan) and deleted through the primary key, which the
// planner cannot turn into a hash join over the whole table. The criterion
// is repeated on the deleted rows: a family refreshed or revoked since its
// id was read is re-checked on its new version (READ COMMITTED re-evaluates
// the DELETE's own conditions), so it is never deleted while live.
func (s *Store) DeleteDeadFamilies(ctx context.Context, c storage.FamilyCleanup, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM refresh_families
		WHERE id = ANY (ARRAY(
			(SELECT id FROM refresh_families WHERE revoked_at IS NULL AND expires_at <= $1
				ORDER BY expires_at LIMIT $4)
			UNION ALL
			(SELECT id FROM refresh_families WHERE revoked_at IS NULL AND created_at <= $2 AND rotated_at <= $2
				AND expires_at > $1 ORDER BY created_at LIMIT $4)
			UNION ALL
			(SELECT id FROM refresh_families WHERE revoked_at IS NOT NULL AND revoked_at <= $3
				ORDER BY revoked_at LIMIT $4)
			LIMIT $4))
		AND `+deadFamilies, c.Now, c.IdleCutoff, c.RevokedCutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete dead families: %w", err)
	}
	return tag.RowsAffected(), nil
}
