package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/idp/idp/internal/storage"
)

var (
	_ storage.Audit    = (*Tables)(nil)
	_ storage.AuditLog = (*Tables)(nil)
)

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// RecordAudit appends e; its ID is assigned by the store. Free text is
// cleaned (see CleanText), never refused.
func (t *Tables) RecordAudit(ctx context.Context, e storage.AuditEvent) error {
	for _, f := range []*string{&e.Type, &e.FamilyID, &e.KID, &e.IP, &e.UserAgent, &e.Detail, &e.TargetType, &e.TargetID} {
		*f = CleanText(*f)
	}
	_, err := t.exec(ctx, `INSERT INTO audit_events (at, type, user_id, family_id, kid, ip, user_agent, detail,
		actor_id, target_type, target_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.d.Time(e.At), e.Type, nullID(e.UserID), e.FamilyID, e.KID, e.IP, e.UserAgent, e.Detail,
		nullID(e.ActorID), e.TargetType, e.TargetID)
	if err != nil {
		return fmt.Errorf("record audit event %q: %w", e.Type, err)
	}
	return nil
}

const auditColumns = `e.id, e.at, e.type, e.user_id, e.family_id, e.kid, e.ip, e.user_agent, e.detail,
	e.actor_id, e.target_type, e.target_id`

func (t *Tables) scanAudit(row interface{ Scan(...any) error }, more ...any) (storage.AuditEvent, error) {
	var e storage.AuditEvent
	var userID, actorID sql.NullInt64
	err := row.Scan(append([]any{&e.ID, t.d.ScanTime(&e.At), &e.Type, &userID, &e.FamilyID, &e.KID, &e.IP,
		&e.UserAgent, &e.Detail, &actorID, &e.TargetType, &e.TargetID}, more...)...)
	e.UserID, e.ActorID = userID.Int64, actorID.Int64
	return e, err
}

// ListAudit returns up to limit events with id > afterID, by id.
func (t *Tables) ListAudit(ctx context.Context, afterID int64, limit int) ([]storage.AuditEvent, error) {
	events := []storage.AuditEvent{}
	if limit <= 0 {
		return events, nil
	}
	rows, err := t.query(ctx, `SELECT `+auditColumns+` FROM audit_events e WHERE e.id > ? ORDER BY e.id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := t.scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}

// SearchAudit returns up to q.Limit events matching q, newest first, with
// the actor's and user's emails joined in the same query.
func (t *Tables) SearchAudit(ctx context.Context, q storage.AuditQuery) ([]storage.AuditRecord, error) {
	out := []storage.AuditRecord{}
	if q.Limit <= 0 {
		return out, nil
	}
	var where []string
	var args []any
	if q.BeforeID > 0 {
		where, args = append(where, "e.id < ?"), append(args, q.BeforeID)
	}
	if q.UserID != 0 {
		where, args = append(where, "(e.user_id = ? OR e.actor_id = ?)"), append(args, q.UserID, q.UserID)
	}
	if q.Type != "" {
		where, args = append(where, "e.type = ?"), append(args, q.Type)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "e.at >= ?"), append(args, t.d.Time(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, "e.at < ?"), append(args, t.d.Time(q.Until))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := t.query(ctx, `SELECT `+auditColumns+`, COALESCE(a.email, ''), COALESCE(u.email, '')
		FROM audit_events e LEFT JOIN users a ON a.id = e.actor_id LEFT JOIN users u ON u.id = e.user_id`+
		cond+` ORDER BY e.id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("search audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r storage.AuditRecord
		e, err := t.scanAudit(rows, &r.ActorEmail, &r.UserEmail)
		if err != nil {
			return nil, fmt.Errorf("search audit events: %w", err)
		}
		r.AuditEvent = e
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search audit events: %w", err)
	}
	return out, nil
}
