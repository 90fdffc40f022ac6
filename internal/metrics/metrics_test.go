package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idp/idp/internal/storage"
)

type nopAudit struct{ storage.Audit }

func (nopAudit) RecordAudit(context.Context, storage.AuditEvent) error { return nil }

func TestAuditCounters(t *testing.T) {
	m := New(Options{})
	a := m.Audit(nopAudit{})
	for _, e := range []storage.AuditEvent{
		{Type: "refresh.reuse_detected"},
		{Type: "family.revoked", Detail: "logout"},
		{Type: "family.revoked", Detail: "logout_all (3 sessions)"},
		{Type: "family.revoked", Detail: "password_changed (2 sessions)"},
		{Type: "family.revoked", Detail: "something new"},
		{Type: "key.sessions_revoked", Detail: "4 sessions whose refresh token it signed"},
		{Type: "login.succeeded", Detail: "email ann@example.com"},
	} {
		if err := a.RecordAudit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		reason string
		want   float64
	}{{"reuse_detected", 1}, {"logout", 1}, {"logout_all", 3}, {"password_changed", 2}, {"other", 1}, {"key_revoked", 4}} {
		if got := testutil.ToFloat64(m.revoked.WithLabelValues(tc.reason)); got != tc.want {
			t.Errorf("families revoked %s = %v, want %v", tc.reason, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(m.reuse); got != 1 {
		t.Errorf("reuse = %v", got)
	}
}

func TestHTTPLabels(t *testing.T) {
	m := New(Options{})
	e := echo.New()
	e.Pre(m.HTTP)
	e.GET("/api/sessions/:id", func(c echo.Context) error { return echo.NewHTTPError(http.StatusUnauthorized, "no") })
	e.POST("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/sessions/abc"}, {"GET", "/api/sessions/def"}, {"POST", "/ok"},
		{"GET", "/no/such/path?email=ann@example.com"}, {"BREW", "/ok"},
	} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}
	want := `
# HELP idp_http_requests_total HTTP requests answered, by route template, method and status.
# TYPE idp_http_requests_total counter
idp_http_requests_total{method="GET",route="/api/sessions/:id",status="401"} 2
idp_http_requests_total{method="GET",route="unmatched",status="404"} 1
idp_http_requests_total{method="POST",route="/ok",status="200"} 1
idp_http_requests_total{method="other",route="/ok",status="405"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "idp_http_requests_total"); err != nil {
		t.Error(err)
	}
}

// BenchmarkHTTPMiddleware is what the middleware adds to one request
// (compare the two; a refresh takes milliseconds).
func BenchmarkHTTPMiddleware(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			e := echo.New()
			if on {
				e.Pre(New(Options{}).HTTP)
			}
			e.POST("/api/token/refresh/", func(c echo.Context) error { return c.String(http.StatusOK, "{}") })
			req := httptest.NewRequest(http.MethodPost, "/api/token/refresh/", nil)
			b.ReportAllocs()
			for b.Loop() {
				e.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
