package server

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

func withMetrics(c *config.Config) { c.Metrics.Addr = "127.0.0.1:0" }

// scrape returns the exposition of the metrics handler, one sample a line.
func scrape(t *testing.T, srv *Server) map[string]string {
	t.Helper()
	h := srv.MetricsHandler()
	if h == nil {
		t.Fatal("metrics handler is nil with metrics.addr set")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		out[line[:i]] = line[i+1:]
	}
	return out
}

func TestMetrics(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, withMetrics)
		e.register("Ann", "ann@example.com", "correct horse battery")
		_, refresh := e.login("ann@example.com", "correct horse battery")
		if r := e.post("/api/token/", `{"email":"ann@example.com","password":"wrong password!"}`); r.status != http.StatusUnauthorized {
			t.Fatalf("bad login: %d", r.status)
		}
		r := e.post("/api/token/refresh/", `{"refresh":"`+refresh+`"}`)
		if r.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		e.clock.Advance(11 * time.Second) // past the grace window: reuse
		if r := e.post("/api/token/refresh/", `{"refresh":"`+refresh+`"}`); r.status != http.StatusUnauthorized {
			t.Fatalf("reuse: %d %s", r.status, r.body)
		}
		if r := e.post("/api/token/refresh/", `{"refresh":"garbage"}`); r.status != http.StatusUnauthorized {
			t.Fatalf("garbage refresh: %d", r.status)
		}
		e.do(http.MethodGet, "/wp-login.php?user=ann@example.com", "")
		e.do(http.MethodGet, "/api/sessions/some-family-id", "")
		_, secret := e.mustClient(clients.Spec{ID: "svc", Type: storage.ClientConfidential, GrantTypes: []string{"client_credentials"}})
		if r := e.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", secret); r.status != http.StatusOK {
			t.Fatalf("client_credentials: %d %s", r.status, r.body)
		}
		if r := e.do(http.MethodGet, "/metrics", ""); r.status != http.StatusNotFound {
			t.Errorf("public port serves /metrics: %d", r.status)
		}

		m := scrape(t, e.srv)
		for _, tc := range []struct{ sample, want string }{
			{`idp_http_requests_total{method="POST",route="/api/register/",status="200"}`, "1"},
			{`idp_http_requests_total{method="POST",route="/api/token/",status="200"}`, "1"},
			{`idp_http_requests_total{method="POST",route="/api/token/",status="401"}`, "1"},
			{`idp_http_requests_total{method="POST",route="/api/token/refresh/",status="401"}`, "2"},
			{`idp_http_requests_total{method="GET",route="unmatched",status="404"}`, "2"},
			{`idp_http_requests_total{method="GET",route="/api/sessions/:id",status="401"}`, "1"},
			{`idp_http_request_duration_seconds_count{method="POST",route="/api/token/refresh/"}`, "3"},
			{`idp_tokens_issued_total{alg="RS256",grant="password"}`, "1"},
			{`idp_tokens_issued_total{alg="RS256",grant="refresh_token"}`, "1"},
			{`idp_tokens_issued_total{alg="RS256",grant="client_credentials"}`, "1"},
			{`idp_http_requests_total{method="POST",route="/oauth2/token",status="200"}`, "1"},
			{`idp_refreshes_total{outcome="success"}`, "1"},
			{`idp_refreshes_total{outcome="blacklisted"}`, "1"},
			{`idp_refreshes_total{outcome="invalid"}`, "1"},
			{`idp_refresh_reuse_detected_total`, "1"},
			{`idp_families_revoked_total{reason="reuse_detected"}`, "1"},
			{`idp_logins_total{outcome="success"}`, "1"},
			{`idp_logins_total{outcome="bad_credentials"}`, "1"},
			{`idp_logins_total{outcome="throttled"}`, "0"},
			{`idp_password_hash_queue_depth`, "0"},
			{`idp_password_hash_wait_seconds_count`, "3"}, // register, good and bad login
		} {
			if got := m[tc.sample]; got != tc.want {
				t.Errorf("%s = %q, want %s", tc.sample, got, tc.want)
			}
		}
		// The key gauges, on the injected clock: a fresh ring's next key
		// takes over a rotation period (30 days) after the first activated,
		// and the clock moved 11 s since.
		if got := m[`idp_signing_key_age_seconds{alg="RS256",use="access"}`]; got != "11" {
			t.Errorf("access key age %s s, want 11", got)
		}
		for _, use := range []string{`{alg="RS256",use="access"}`, `{alg="EdDSA",use="refresh"}`} {
			if m["idp_signing_key_age_seconds"+use] == "" || m["idp_signing_key_next_rotation_seconds"+use] == "" {
				t.Errorf("signing key gauges for %s missing", use)
			}
		}
		if got := m[`idp_signing_key_next_rotation_seconds{alg="RS256",use="access"}`]; got != "2.591989e+06" {
			t.Errorf("next rotation of the access key in %s s, want 2.591989e+06 (30 days - 11 s)", got)
		}
		if _, ok := m["idp_db_pool_max_conns"]; ok != (store.Backend() == "postgres") {
			t.Errorf("idp_db_pool_max_conns present=%v on %s", ok, store.Backend())
		}
		var build bool
		for k := range m {
			if strings.HasPrefix(k, "idp_build_info{") {
				build = true
			}
			// No user data in labels.
			if strings.Contains(k, "example.com") || strings.Contains(k, "wp-login") || strings.Contains(k, "some-family-id") {
				t.Errorf("user data in a label: %s", k)
			}
		}
		if !build {
			t.Error("idp_build_info missing")
		}
	})
}

func TestMetricsOffByDefault(t *testing.T) {
	e := newEnv(t, storagetest.SQLite(t))
	if e.srv.MetricsHandler() != nil {
		t.Fatal("metrics handler with metrics.addr empty")
	}
}

// TestMetricNames keeps the names dashboards rely on (issue 15) exported.
func TestMetricNames(t *testing.T) {
	e := newEnv(t, storagetest.Postgres(t), withMetrics)
	e.do(http.MethodGet, "/healthz", "")
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	have := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(rec.Body.String(), -1) {
		have[m[1]] = true
	}
	for _, name := range []string{
		"idp_http_requests_total", "idp_http_request_duration_seconds", "idp_tokens_issued_total",
		"idp_refreshes_total", "idp_refresh_reuse_detected_total", "idp_families_revoked_total",
		"idp_logins_total", "idp_password_hash_queue_depth", "idp_password_hash_wait_seconds",
		"idp_signing_key_age_seconds", "idp_signing_key_next_rotation_seconds",
		"idp_db_pool_acquired_conns", "idp_db_pool_idle_conns", "idp_db_pool_total_conns", "idp_db_pool_max_conns",
		"idp_build_info",
	} {
		if !have[name] {
			t.Errorf("metric %s not exported", name)
		}
	}
}
