package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idp/idp/internal/storage"
)

const keyColumns = `kid, alg, state, private_key, public_jwk, created_at, activates_at,
	retired_at, expires_at, revoked_at, revoke_reason`

// keyTxAttempts bounds UpdateSigningKeys' retries after a serialization
// failure or deadlock.
const keyTxAttempts = 5

func scanKey(row pgx.Row) (storage.SigningKey, error) {
	var k storage.SigningKey
	var state, jwk string
	err := row.Scan(&k.KID, &k.Alg, &state, &k.PrivateKey, &jwk,
		tsz{&k.CreatedAt}, tsz{&k.ActivatesAt}, tsz{&k.RetiredAt},
		tsz{&k.ExpiresAt}, tsz{&k.RevokedAt}, &k.RevokeReason)
	k.State = storage.KeyState(state)
	k.PublicJWK = []byte(jwk)
	return k, err
}

func listKeys(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) ([]storage.SigningKey, error) {
	rows, err := q.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []storage.SigningKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// ListSigningKeys returns every key, ordered by CreatedAt then KID.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	keys, err := listKeys(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return keys, nil
}

// UpdateSigningKeys locks the signing_key_lock row, reads the keys, lets
// decide choose the changes and writes them, in one READ COMMITTED
// transaction. A serialization failure or deadlock retries the whole
// transaction (decide included) a few times.
func (s *Store) UpdateSigningKeys(ctx context.Context, decide func(current []storage.SigningKey) (storage.KeyChanges, error)) error {
	var err error
	var changed bool
	noted := func(current []storage.SigningKey) (storage.KeyChanges, error) {
		c, err := decide(current)
		changed = err == nil && len(c.Insert)+len(c.Update)+len(c.Delete) > 0
		return c, err
	}
	for attempt := 1; attempt <= keyTxAttempts; attempt++ {
		var decideErr error
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var txErr error
			decideErr, txErr = updateKeysTx(ctx, tx, noted)
			return errors.Join(decideErr, txErr)
		})
		if decideErr != nil {
			return decideErr
		}
		if err == nil || !retryable(err) {
			break
		}
		s.log.Warn("signing key update aborted by the server; retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("update signing keys: %w", ctx.Err())
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("update signing keys: %w", err)
	}
	if changed {
		s.notifyKeyChange(ctx)
	}
	return nil
}

// updateKeysTx returns decide's error apart so that it reaches the caller
// unchanged.
func updateKeysTx(ctx context.Context, tx pgx.Tx, decide func([]storage.SigningKey) (storage.KeyChanges, error)) (decideErr, err error) {
	if _, err := tx.Exec(ctx, `SELECT id FROM signing_key_lock WHERE id = 1 FOR UPDATE`); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	current, err := listKeys(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	changes, err := decide(current)
	if err != nil {
		return err, nil
	}
	if err := checkKeyChanges(changes); err != nil {
		return nil, err
	}
	for _, kid := range changes.Delete {
		tag, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE kid = $1`, kid)
		if err == nil {
			err = affected(tag)
		}
		if err != nil {
			return nil, fmt.Errorf("delete key %q: %w", kid, translate(err))
		}
	}
	for _, k := range changes.Update {
		tag, err := tx.Exec(ctx, `UPDATE signing_keys SET alg = $1, state = $2, private_key = $3,
			public_jwk = $4, created_at = $5, activates_at = $6, retired_at = $7, expires_at = $8,
			revoked_at = $9, revoke_reason = $10 WHERE kid = $11`,
			k.Alg, string(k.State), blob(k.PrivateKey), string(k.PublicJWK),
			ts(k.CreatedAt), ts(k.ActivatesAt), ts(k.RetiredAt), ts(k.ExpiresAt),
			ts(k.RevokedAt), cleanText(k.RevokeReason), k.KID)
		if err == nil {
			err = affected(tag)
		}
		if err != nil {
			return nil, fmt.Errorf("update key %q: %w", k.KID, translate(err))
		}
	}
	for _, k := range changes.Insert {
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			k.KID, k.Alg, string(k.State), blob(k.PrivateKey), string(k.PublicJWK),
			ts(k.CreatedAt), ts(k.ActivatesAt), ts(k.RetiredAt), ts(k.ExpiresAt),
			ts(k.RevokedAt), cleanText(k.RevokeReason))
		if err != nil {
			return nil, fmt.Errorf("insert key %q: %w", k.KID, translate(err))
		}
	}
	return nil, nil
}

// checkKeyChanges refuses text Postgres cannot store (see text.go).
func checkKeyChanges(c storage.KeyChanges) error {
	if err := checkText(c.Delete...); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	for _, k := range append(append([]storage.SigningKey(nil), c.Insert...), c.Update...) {
		if err := checkText(k.KID, k.Alg, string(k.State), string(k.PublicJWK)); err != nil {
			return fmt.Errorf("key %q: %w", k.KID, err)
		}
	}
	return nil
}

// blob keeps a nil key out of the NOT NULL column.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
