package postgres

import (
	"context"
	"fmt"

	"github.com/idp/idp/internal/storage"
)

// RecordAudit appends e; its ID is assigned by the store.
func (s *Store) RecordAudit(ctx context.Context, e storage.AuditEvent) error {
	for _, f := range []*string{&e.Type, &e.FamilyID, &e.KID, &e.IP, &e.UserAgent, &e.Detail} {
		*f = cleanText(*f)
	}
	var userID *int64
	if e.UserID != 0 {
		userID = &e.UserID
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (at, type, user_id, family_id, kid, ip, user_agent, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ts(e.At), e.Type, userID, e.FamilyID, e.KID, e.IP, e.UserAgent, e.Detail)
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
	rows, err := s.pool.Query(ctx, `SELECT id, at, type, user_id, family_id, kid, ip, user_agent, detail
		FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e storage.AuditEvent
		var userID *int64
		if err := rows.Scan(&e.ID, tsz{&e.At}, &e.Type, &userID, &e.FamilyID, &e.KID, &e.IP,
			&e.UserAgent, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		if userID != nil {
			e.UserID = *userID
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}
