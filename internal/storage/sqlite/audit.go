package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/idp/idp/internal/storage"
)

// RecordAudit appends e; its ID is assigned by the store.
func (s *Store) RecordAudit(ctx context.Context, e storage.AuditEvent) error {
	for _, f := range []*string{&e.Type, &e.FamilyID, &e.KID, &e.IP, &e.UserAgent, &e.Detail} {
		*f = cleanText(*f)
	}
	var userID sql.NullInt64
	if e.UserID != 0 {
		userID = sql.NullInt64{Int64: e.UserID, Valid: true}
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_events (at, type, user_id, family_id, kid, ip, user_agent, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		micros(e.At), e.Type, userID, e.FamilyID, e.KID, e.IP, e.UserAgent, e.Detail)
	if err != nil {
		return fmt.Errorf("record audit event %q: %w", e.Type, translate(err))
	}
	return nil
}

// ListAudit returns up to limit events with id > afterID, by id.
func (s *Store) ListAudit(ctx context.Context, afterID int64, limit int) ([]storage.AuditEvent, error) {
	events := []storage.AuditEvent{}
	if limit <= 0 {
		return events, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, type, user_id, family_id, kid, ip, user_agent, detail
		FROM audit_events WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e storage.AuditEvent
		var userID sql.NullInt64
		if err := rows.Scan(&e.ID, microTime{&e.At}, &e.Type, &userID, &e.FamilyID, &e.KID, &e.IP,
			&e.UserAgent, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		e.UserID = userID.Int64
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}
