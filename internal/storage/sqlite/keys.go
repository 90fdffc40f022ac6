package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/idp/idp/internal/storage"
)

const keyColumns = `kid, alg, state, private_key, public_jwk, created_at, activates_at,
	retired_at, expires_at, revoked_at, revoke_reason`

func scanKey(row scanner) (storage.SigningKey, error) {
	var k storage.SigningKey
	var state string
	err := row.Scan(&k.KID, &k.Alg, &state, &k.PrivateKey, &k.PublicJWK,
		microTime{&k.CreatedAt}, microTime{&k.ActivatesAt}, microTime{&k.RetiredAt},
		microTime{&k.ExpiresAt}, microTime{&k.RevokedAt}, &k.RevokeReason)
	k.State = storage.KeyState(state)
	return k, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func listKeys(ctx context.Context, q querier) ([]storage.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, kid`)
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
	keys, err := listKeys(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return keys, nil
}

// UpdateSigningKeys runs read → decide → write in one immediate
// transaction on the single write connection: SQLite's write lock, taken at
// BEGIN, is the exclusive lock on the key set.
func (s *Store) UpdateSigningKeys(ctx context.Context, decide func(current []storage.SigningKey) (storage.KeyChanges, error)) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update signing keys: begin: %w", err)
	}
	defer tx.Rollback()

	current, err := listKeys(ctx, tx)
	if err != nil {
		return fmt.Errorf("update signing keys: read: %w", err)
	}
	changes, err := decide(current)
	if err != nil {
		return err
	}
	if changes.Empty() {
		return nil
	}
	if err := checkKeyChanges(changes); err != nil {
		return fmt.Errorf("update signing keys: %w", err)
	}
	if err := applyKeyChanges(ctx, tx, changes); err != nil {
		return fmt.Errorf("update signing keys: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update signing keys: commit: %w", err)
	}
	return nil
}

func applyKeyChanges(ctx context.Context, tx *sql.Tx, c storage.KeyChanges) error {
	for _, kid := range c.Delete {
		res, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid)
		if err == nil {
			err = rowsAffected(res)
		}
		if err != nil {
			return fmt.Errorf("delete key %q: %w", kid, translate(err))
		}
	}
	for _, k := range c.Update {
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET alg = ?, state = ?, private_key = ?,
			public_jwk = ?, created_at = ?, activates_at = ?, retired_at = ?, expires_at = ?,
			revoked_at = ?, revoke_reason = ? WHERE kid = ?`,
			k.Alg, string(k.State), blob(k.PrivateKey), string(k.PublicJWK),
			micros(k.CreatedAt), micros(k.ActivatesAt), micros(k.RetiredAt), micros(k.ExpiresAt),
			micros(k.RevokedAt), cleanText(k.RevokeReason), k.KID)
		if err == nil {
			err = rowsAffected(res)
		}
		if err != nil {
			return fmt.Errorf("update key %q: %w", k.KID, translate(err))
		}
	}
	for _, k := range c.Insert {
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.KID, k.Alg, string(k.State), blob(k.PrivateKey), string(k.PublicJWK),
			micros(k.CreatedAt), micros(k.ActivatesAt), micros(k.RetiredAt), micros(k.ExpiresAt),
			micros(k.RevokedAt), cleanText(k.RevokeReason))
		if err != nil {
			return fmt.Errorf("insert key %q: %w", k.KID, translate(err))
		}
	}
	return nil
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
