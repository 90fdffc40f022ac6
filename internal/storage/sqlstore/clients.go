package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
)

const clientColumns = `id, name, type, grant_types, redirect_uris, post_logout_redirect_uris,
	scopes, audiences, access_ttl_ms, refresh_ttl_ms, first_party, enabled,
	secret_hash, previous_secret_hash, previous_secret_expires_at, created_at, updated_at`

// list encodes a string list as a JSON array (TEXT on both backends).
func list(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // strings always marshal
	return string(b)
}

type listColumn struct{ v *[]string }

func (l listColumn) Scan(src any) error {
	var b []byte
	switch s := src.(type) {
	case string:
		b = []byte(s)
	case []byte:
		b = s
	default:
		return fmt.Errorf("list column: unexpected %T", src)
	}
	*l.v = []string{}
	return json.Unmarshal(b, l.v)
}

func (t *Tables) scanClient(row interface{ Scan(...any) error }) (storage.Client, error) {
	var c storage.Client
	var accessMS, refreshMS int64
	err := row.Scan(&c.ID, &c.Name, &c.Type, listColumn{&c.GrantTypes}, listColumn{&c.RedirectURIs},
		listColumn{&c.PostLogoutRedirectURIs}, listColumn{&c.Scopes}, listColumn{&c.Audiences},
		&accessMS, &refreshMS, &c.FirstParty, &c.Enabled, &c.SecretHash, &c.PreviousSecretHash,
		t.d.ScanTime(&c.PreviousSecretExpiresAt), t.d.ScanTime(&c.CreatedAt), t.d.ScanTime(&c.UpdatedAt))
	c.AccessTTL = time.Duration(accessMS) * time.Millisecond
	c.RefreshTTL = time.Duration(refreshMS) * time.Millisecond
	return c, err
}

func clientText(c storage.Client) error {
	all := []string{c.ID, c.Name, c.Type, c.SecretHash, c.PreviousSecretHash}
	for _, l := range [][]string{c.GrantTypes, c.RedirectURIs, c.PostLogoutRedirectURIs, c.Scopes, c.Audiences} {
		all = append(all, l...)
	}
	return CheckText(all...)
}

// CreateClient inserts c. ErrConflict if the id is taken.
func (t *Tables) CreateClient(ctx context.Context, c storage.Client) error {
	if err := clientText(c); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	_, err := t.exec(ctx, `INSERT INTO oauth2_clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Type, list(c.GrantTypes), list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		list(c.Scopes), list(c.Audiences), c.AccessTTL.Milliseconds(), c.RefreshTTL.Milliseconds(),
		c.FirstParty, c.Enabled, c.SecretHash, c.PreviousSecretHash,
		t.d.Time(c.PreviousSecretExpiresAt), t.d.Time(c.CreatedAt), t.d.Time(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return nil
}

// GetClient returns the client with that id.
func (t *Tables) GetClient(ctx context.Context, id string) (storage.Client, error) {
	if !ValidText(id) {
		return storage.Client{}, fmt.Errorf("get client: %w", storage.ErrNotFound)
	}
	c, err := t.scanClient(t.queryRow(ctx, `SELECT `+clientColumns+` FROM oauth2_clients WHERE id = ?`, id))
	if err != nil {
		return storage.Client{}, fmt.Errorf("get client: %w", t.scanErr(err))
	}
	return c, nil
}

// ListClients returns up to limit clients with id > afterID, by id.
func (t *Tables) ListClients(ctx context.Context, afterID string, limit int) ([]storage.Client, error) {
	out := []storage.Client{}
	if limit <= 0 {
		return out, nil
	}
	if !ValidText(afterID) {
		return nil, fmt.Errorf("list clients: %w", ErrInvalidText)
	}
	rows, err := t.query(ctx, `SELECT `+clientColumns+` FROM oauth2_clients WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := t.scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// UpdateClient rewrites the client's fields except secrets and CreatedAt.
func (t *Tables) UpdateClient(ctx context.Context, c storage.Client) error {
	if !ValidText(c.ID) {
		return fmt.Errorf("update client: %w", storage.ErrNotFound)
	}
	if err := clientText(c); err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	res, err := t.exec(ctx, `UPDATE oauth2_clients SET name = ?, type = ?, grant_types = ?,
		redirect_uris = ?, post_logout_redirect_uris = ?, scopes = ?, audiences = ?,
		access_ttl_ms = ?, refresh_ttl_ms = ?, first_party = ?, enabled = ?, updated_at = ?
		WHERE id = ?`,
		c.Name, c.Type, list(c.GrantTypes), list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		list(c.Scopes), list(c.Audiences), c.AccessTTL.Milliseconds(), c.RefreshTTL.Milliseconds(),
		c.FirstParty, c.Enabled, t.d.Time(c.UpdatedAt), c.ID)
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	if err := affected(res); err != nil {
		return fmt.Errorf("update client %s: %w", c.ID, err)
	}
	return nil
}

// RotateClientSecret is one UPDATE: current → previous, new → current.
func (t *Tables) RotateClientSecret(ctx context.Context, r storage.SecretRotation) error {
	if !ValidText(r.ClientID) {
		return fmt.Errorf("rotate client secret: %w", storage.ErrNotFound)
	}
	if err := CheckText(r.NewHash); err != nil {
		return fmt.Errorf("rotate client secret: %w", err)
	}
	prevHash := "secret_hash"
	if !r.PreviousExpiresAt.After(r.At) {
		prevHash, r.PreviousExpiresAt = "''", time.Time{}
	}
	res, err := t.exec(ctx, `UPDATE oauth2_clients SET previous_secret_hash = `+prevHash+`,
		previous_secret_expires_at = ?, secret_hash = ?, updated_at = ? WHERE id = ?`,
		t.d.Time(r.PreviousExpiresAt), r.NewHash, t.d.Time(r.At), r.ClientID)
	if err != nil {
		return fmt.Errorf("rotate client secret: %w", err)
	}
	if err := affected(res); err != nil {
		return fmt.Errorf("rotate client secret of %s: %w", r.ClientID, err)
	}
	return nil
}

// DeleteClient removes the client.
func (t *Tables) DeleteClient(ctx context.Context, id string) error {
	if !ValidText(id) {
		return fmt.Errorf("delete client: %w", storage.ErrNotFound)
	}
	res, err := t.exec(ctx, `DELETE FROM oauth2_clients WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	if err := affected(res); err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	return nil
}
