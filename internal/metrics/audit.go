package metrics

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/idp/idp/internal/storage"
)

// Audit wraps an audit store: every event is recorded as before, and the
// security events among them feed the counters (reuse detections, family
// revocations). Events are counted when recorded, whether or not the
// store kept them: the metric is what happened, not what was written.
func (m *Metrics) Audit(next storage.Audit) storage.Audit {
	return &auditCounter{Audit: next, m: m}
}

type auditCounter struct {
	storage.Audit
	m *Metrics
}

func (a *auditCounter) RecordAudit(ctx context.Context, e storage.AuditEvent) error {
	a.m.observeAudit(e)
	return a.Audit.RecordAudit(ctx, e)
}

// revokeReasons are the reasons labelled by name; any other is "other".
var revokeReasons = map[string]bool{
	"logout": true, "logout_all": true, "session_revoked": true, "reuse_detected": true,
	"password_changed": true, "user_deactivated": true, "user_deleted": true, "key_revoked": true,
}

// sessionCount finds "(3 sessions)" / "3 sessions" in an event's detail.
var sessionCount = regexp.MustCompile(`(\d+) sessions`)

func (m *Metrics) observeAudit(e storage.AuditEvent) {
	switch e.Type {
	case "refresh.reuse_detected":
		m.reuse.Inc()
		m.revoked.WithLabelValues("reuse_detected").Inc()
	case "family.revoked":
		// Detail starts with the reason: "logout", "logout_all (3 sessions)",
		// "password_changed (2 sessions)".
		reason, _, _ := strings.Cut(e.Detail, " ")
		if !revokeReasons[reason] {
			reason = "other"
		}
		m.revoked.WithLabelValues(reason).Add(float64(sessions(e.Detail)))
	case "key.sessions_revoked":
		m.revoked.WithLabelValues("key_revoked").Add(float64(sessions(e.Detail)))
	}
}

// sessions is the number of sessions an event's detail names; 1 if none.
func sessions(detail string) int {
	if s := sessionCount.FindStringSubmatch(detail); s != nil {
		if n, err := strconv.Atoi(s[1]); err == nil && n >= 0 {
			return n
		}
	}
	return 1
}
