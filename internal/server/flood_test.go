package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/postgres"
	"github.com/idp/idp/internal/storage/storagetest"
)

// Brute-force protection of POST token/ and bounded password hashing,
// through the real HTTP stack; and the benchmark of refresh latency under
// a login flood. Client IPs are chosen with X-Forwarded-For (loopback is a
// trusted proxy); time moves with the injected clock.

func throttledBody(secs int) string {
	return fmt.Sprintf(`{"detail":"Request was throttled. Expected available in %d seconds."}`, secs)
}

// attempt is one login from a client IP with a user agent.
func (e *env) attempt(email, pw, ip string) response {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return e.post("/api/token/", string(b), "X-Forwarded-For: "+ip, "User-Agent: Attacker/"+ip)
}

func wantThrottled(t testing.TB, what string, r response, secs int) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.body != throttledBody(secs) || r.header.Get("Retry-After") != fmt.Sprint(secs) {
		t.Fatalf("%s: %d %s (Retry-After %q), want 429 after %d s", what, r.status, r.body, r.header.Get("Retry-After"), secs)
	}
	if r.header.Get("WWW-Authenticate") != "" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: headers %v", what, r.header)
	}
}

// TestLoginLockout: the (account, IP) pair blocks after 5 failures, the
// block doubles, the owner elsewhere is unaffected, unknown accounts are
// indistinguishable, a success resets the pair, everything is audited.
func TestLoginLockout(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Victim", "victim@example.com", password)
		u := userRow(t, store, "victim@example.com")
		const attacker, owner = "203.0.113.10", "198.51.100.20"

		t.Run("pair-blocks-after-5", func(t *testing.T) {
			e.t = t
			for i := range 5 {
				wantAnswer(t, fmt.Sprintf("failure %d", i+1), e.attempt("victim@example.com", "guess", attacker), 401, bodyBadCreds)
			}
			// Even the right password is refused now: no password check.
			wantThrottled(t, "6th attempt", e.attempt("victim@example.com", password, attacker), 30)
			e.clock.Advance(10 * time.Second)
			wantThrottled(t, "10 s later", e.attempt("victim@example.com", "guess", attacker), 20)
		})
		t.Run("owner-from-another-ip-logs-in", func(t *testing.T) {
			e.t = t
			wantAnswer(t, "owner", e.attempt("victim@example.com", password, owner), 200, "")
			wantAnswer(t, "owner, other case", e.attempt("VICTIM@example.com", password, owner), 200, "")
		})
		t.Run("block-doubles", func(t *testing.T) {
			e.t = t
			e.clock.Advance(20 * time.Second) // the 30 s block is over
			wantAnswer(t, "6th failure", e.attempt("victim@example.com", "guess", attacker), 401, bodyBadCreds)
			wantThrottled(t, "after the 6th failure", e.attempt("victim@example.com", password, attacker), 60)
			e.clock.Advance(time.Minute)
			wantAnswer(t, "7th failure", e.attempt("victim@example.com", "guess", attacker), 401, bodyBadCreds)
			wantThrottled(t, "after the 7th failure", e.attempt("victim@example.com", password, attacker), 120)
			// Another account from the attacker's IP is not blocked (the IP
			// has 7 failures of 100).
			e.register("Other", "other@example.com", password)
			wantAnswer(t, "other account, same IP", e.attempt("other@example.com", password, attacker), 200, "")
		})
		t.Run("unknown-account-indistinguishable", func(t *testing.T) {
			e.t = t
			const ip = "203.0.113.11"
			var known, unknown []response
			for range 5 {
				known = append(known, e.attempt("victim@example.com", "guess", ip))
				unknown = append(unknown, e.attempt("nobody@example.com", "guess", ip))
			}
			known = append(known, e.attempt("victim@example.com", "guess", ip))
			unknown = append(unknown, e.attempt("nobody@example.com", "guess", ip))
			for i := range known {
				k, u := known[i], unknown[i]
				if k.status != u.status || k.body != u.body || k.header.Get("Retry-After") != u.header.Get("Retry-After") ||
					k.header.Get("WWW-Authenticate") != u.header.Get("WWW-Authenticate") {
					t.Errorf("attempt %d: known %d %s %v, unknown %d %s %v", i, k.status, k.body, k.header, u.status, u.body, u.header)
				}
			}
			wantThrottled(t, "unknown account, 6th", unknown[5], 30)
		})
		t.Run("success-resets-pair", func(t *testing.T) {
			e.t = t
			const ip = "203.0.113.12"
			for range 4 {
				wantAnswer(t, "failure", e.attempt("victim@example.com", "typo", ip), 401, bodyBadCreds)
			}
			wantAnswer(t, "success", e.attempt("victim@example.com", password, ip), 200, "")
			for i := range 4 {
				wantAnswer(t, fmt.Sprintf("failure %d after the reset", i+1), e.attempt("victim@example.com", "typo", ip), 401, bodyBadCreds)
			}
			wantAnswer(t, "5th failure after the reset", e.attempt("victim@example.com", "typo", ip), 401, bodyBadCreds)
			wantThrottled(t, "after 5 since the reset", e.attempt("victim@example.com", password, ip), 30)
		})
		t.Run("audit", func(t *testing.T) {
			e.t = t
			// Refused attempts are audited once per block (with their
			// count) when it ends; at shutdown, all of them.
			e.srv.Guard.FlushRefusals(context.Background(), true)
			events := e.audit()
			var fromAttacker, refusals []string
			for _, ev := range events {
				if ev.IP == attacker && strings.HasPrefix(ev.Type, "login.") {
					if ev.Type == "login.throttled" {
						refusals = append(refusals, ev.Detail[strings.Index(ev.Detail, ": ")+2:strings.Index(ev.Detail, " refused")])
					} else {
						fromAttacker = append(fromAttacker, ev.Type)
					}
					if ev.UserAgent != "Attacker/"+attacker {
						t.Errorf("event %+v: user agent", ev)
					}
				}
			}
			want := []string{"login.failed", "login.failed", "login.failed", "login.failed", "login.failed",
				"login.failed", "login.failed", "login.succeeded"}
			if !slices.Equal(fromAttacker, want) {
				t.Errorf("events from the attacker's IP:\n got  %v\n want %v", fromAttacker, want)
			}
			slices.Sort(refusals)
			if want := []string{"1 attempt", "1 attempt", "2 attempts"}; !slices.Equal(refusals, want) {
				t.Errorf("aggregated refusals %v, want %v (one event per block)", refusals, want)
			}
			ok := eventsOf(events, "login.succeeded")
			if len(ok) == 0 || ok[0].IP != owner || ok[0].UserID != u.ID {
				t.Errorf("login.succeeded events %+v", ok)
			}
			for _, ev := range eventsOf(events, "login.failed") {
				if ev.UserID != 0 {
					t.Errorf("a failed login names a user: %+v", ev)
				}
			}
			for _, ev := range events {
				if strings.Contains(ev.Detail, password) || strings.Contains(ev.Detail, "guess") || strings.Contains(ev.Detail, "typo") {
					t.Errorf("a password reached the audit log: %+v", ev)
				}
			}
		})
	})
}

// TestLoginIPLimit: 100 failures from one IP, spread over many accounts,
// block that IP for everyone; other IPs are fine.
func TestLoginIPLimit(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Alice", "alice@example.com", password)
		const sprayer = "192.0.2.200"
		for i := range 100 {
			r := e.attempt(fmt.Sprintf("user%03d@example.com", i), "Winter2030!", sprayer)
			wantAnswer(t, fmt.Sprintf("spray %d", i), r, 401, bodyBadCreds)
		}
		wantThrottled(t, "alice from the sprayer's IP", e.attempt("alice@example.com", password, sprayer), 30)
		wantThrottled(t, "an unknown account from the sprayer's IP", e.attempt("fresh@example.com", "x", sprayer), 30)
		wantAnswer(t, "alice from elsewhere", e.attempt("alice@example.com", password, "192.0.2.201"), 200, "")
		wantAnswer(t, "a sprayed account from elsewhere", e.attempt("user007@example.com", "x", "192.0.2.201"), 401, bodyBadCreds)
		e.clock.Advance(30 * time.Second)
		wantAnswer(t, "alice from the sprayer's IP after the block", e.attempt("alice@example.com", password, sprayer), 200, "")
	})
}

// TestLoginAccountLimit: 50 failures on one account from 50 IPs block the
// account for a minute from everywhere; then it is free again.
func TestLoginAccountLimit(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Target", "target@example.com", password)
		e.register("Bob", "bob@example.com", password)
		for i := range 50 {
			r := e.attempt("target@example.com", "guess", fmt.Sprintf("10.1.%d.%d", i/200, i%200+1))
			wantAnswer(t, fmt.Sprintf("failure %d", i), r, 401, bodyBadCreds)
		}
		wantThrottled(t, "owner from a fresh IP", e.attempt("target@example.com", password, "198.51.100.50"), 60)
		wantThrottled(t, "from a botnet IP", e.attempt("target@example.com", password, "10.1.0.1"), 60)
		wantAnswer(t, "another account from a botnet IP", e.attempt("bob@example.com", password, "10.1.0.1"), 200, "")
		e.clock.Advance(58 * time.Second)
		wantThrottled(t, "two seconds before the end", e.attempt("target@example.com", password, "198.51.100.50"), 2)
		e.clock.Advance(2 * time.Second)
		wantAnswer(t, "owner after a minute", e.attempt("target@example.com", password, "198.51.100.50"), 200, "")
	})
}

// TestLoginIPv6Prefix: IPv6 clients are counted by their /64.
func TestLoginIPv6Prefix(t *testing.T) {
	e := newEnv(t, storagetest.SQLite(t), proxied)
	e.register("Six", "six@example.com", password)
	for i := range 5 {
		wantAnswer(t, "failure", e.attempt("six@example.com", "guess", fmt.Sprintf("2001:db8:aa:bb::%x", i+1)), 401, bodyBadCreds)
	}
	wantThrottled(t, "same /64", e.attempt("six@example.com", password, "2001:db8:aa:bb:1234::9"), 30)
	wantAnswer(t, "other /64", e.attempt("six@example.com", password, "2001:db8:aa:bc::1"), 200, "")
}

// TestBoundedHashing: with one hashing slot and a short wait, a burst of
// logins gets some quick 503s with Retry-After: 1 — never a 500 — and the
// server is fine afterwards.
func TestBoundedHashing(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied, func(c *config.Config) {
			// Production cost, so that hashes overlap.
			c.Passwords.Argon2 = config.Default().Passwords.Argon2
			c.Passwords.MaxConcurrentHashes = 1
			c.Passwords.MaxHashWait = 5 * time.Millisecond
		})
		e.register("Busy", "busy@example.com", password)
		const n = 24
		tr := &http.Transport{MaxIdleConnsPerHost: n}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: time.Minute}
		type answer struct {
			status     int
			body       string
			retryAfter string
			took       time.Duration
		}
		answers := make([]answer, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, e.url+"/api/token/", strings.NewReader(`{"email":"busy@example.com","password":"`+password+`"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
				<-start
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					answers[i] = answer{body: err.Error()}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answers[i] = answer{resp.StatusCode, string(b), resp.Header.Get("Retry-After"), time.Since(t0)}
			})
		}
		close(start)
		wg.Wait()

		var ok, busy int
		var slowestBusy, slowestOK time.Duration
		for i, a := range answers {
			switch a.status {
			case http.StatusOK:
				ok++
				slowestOK = max(slowestOK, a.took)
			case http.StatusServiceUnavailable:
				busy++
				slowestBusy = max(slowestBusy, a.took)
				if a.retryAfter != "1" || a.body != `{"detail":"Service temporarily unavailable, try again later."}`+"\n" {
					t.Errorf("503 %d: Retry-After %q body %s", i, a.retryAfter, a.body)
				}
			default:
				t.Errorf("answer %d: %d %s", i, a.status, a.body)
			}
		}
		t.Logf("%d logins at once, 1 hashing slot, 5ms wait: %d × 200 (slowest %v), %d × 503 (slowest %v)", n, ok, slowestOK, busy, slowestBusy)
		if ok == 0 || busy == 0 {
			t.Fatalf("%d × 200 and %d × 503: want both (one slot cannot serve %d hashes at once)", ok, busy, n)
		}
		// Busy answers are not failures: nothing is counted against the
		// account or the IPs, and each success is audited once.
		events := e.audit()
		if f := eventsOf(events, "login.failed"); len(f) != 0 {
			t.Errorf("%d login.failed events for busy answers", len(f))
		}
		if s := eventsOf(events, "login.succeeded"); len(s) != ok {
			t.Errorf("%d login.succeeded events, want %d", len(s), ok)
		}
		// The server is fine: the slot is free again.
		access, refresh := e.login("busy@example.com", password)
		e.rotate(refresh)
		if r := e.do(http.MethodGet, "/api/logged-user/", "", bearer(access)); r.status != 200 {
			t.Errorf("logged-user after the burst: %d %s", r.status, r.body)
		}
	})
}

// BenchmarkRefreshUnderLoginFlood measures refresh latency while other
// clients hammer POST token/ with correct passwords (from distinct IPs,
// so nothing is throttled) at production argon2 cost: the bounded
// hashing must keep refresh fast. "quiet" is the same without the flood;
// "slots-1" runs the flood with passwords.max_concurrent_hashes = 1
// instead of the default (2 × GOMAXPROCS). It reports refresh p50/p99 and
// the flood's 200s and 503s per second while the refreshes ran.
//
//	go test -run '^$' -bench RefreshUnderLoginFlood -benchtime 3s ./internal/server/
func BenchmarkRefreshUnderLoginFlood(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", storagetest.SQLite}, {"postgres", productionPostgres}} {
		for _, v := range []struct {
			name     string
			flooders int
			slots    int // 0: the default
		}{{"quiet", 0, 0}, {"flood-16", 16, 0}, {"flood-64", 64, 0}, {"flood-16-slots-1", 16, 1}} {
			b.Run(backend.name+"/"+v.name, func(b *testing.B) {
				benchRefreshUnderFlood(b, backend.open(b), v.flooders, v.slots)
			})
		}
	}
}

// productionPostgres is a fresh Postgres store with the production pool
// size (database.max_conns), not pgxpool's default of max(4, CPUs) that
// storagetest.Postgres keeps.
func productionPostgres(tb testing.TB) storage.Store {
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Options{URL: storagetest.PostgresURL(tb), MaxConns: config.Default().Database.MaxConns})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

func benchRefreshUnderFlood(b *testing.B, store storage.Store, flooders, slots int) {
	cfg := config.Default()
	cfg.Tokens.Issuer = "http://idp.test"
	cfg.HTTP.TrustedProxies = []string{"127.0.0.0/8"}
	cfg.Passwords.MaxConcurrentHashes = slots
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(b)}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: flooders + 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	post := func(path, body, ip string) (int, []byte, error) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return resp.StatusCode, out, err
	}
	const creds = `{"email":"flood@example.com","password":"s3cret-pass"}`
	if st, out, err := post("/api/register/", `{"name":"Flood","email":"flood@example.com","password":"s3cret-pass"}`, "192.0.2.1"); err != nil || st != 200 {
		b.Fatalf("register: %d %s %v", st, out, err)
	}
	st, out, err := post("/api/token/", creds, "192.0.2.1")
	if err != nil || st != 200 {
		b.Fatalf("login: %d %s %v", st, out, err)
	}
	var p struct{ Refresh string }
	if err := json.Unmarshal(out, &p); err != nil {
		b.Fatal(err)
	}
	refresh := p.Refresh

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ok, busy, other atomic.Int64
	for i := range flooders {
		wg.Go(func() {
			ip := fmt.Sprintf("10.9.%d.%d", i/250, i%250+1)
			for ctx.Err() == nil {
				st, _, err := post("/api/token/", creds, ip)
				switch {
				case err != nil && ctx.Err() != nil:
				case st == http.StatusOK:
					ok.Add(1)
				case st == http.StatusServiceUnavailable:
					busy.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	if flooders > 0 {
		// Let the flood saturate the hashing slots before measuring.
		for ok.Load()+busy.Load() < int64(flooders) {
			time.Sleep(time.Millisecond) // waiting for load, not ordering
		}
	}

	lat := make([]time.Duration, 0, b.N)
	ok0, busy0, start := ok.Load(), busy.Load(), time.Now()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		st, out, err := post("/api/token/refresh/", `{"refresh":"`+refresh+`"}`, "192.0.2.1")
		lat = append(lat, time.Since(t0))
		if err != nil || st != 200 {
			b.Fatalf("refresh: %d %s %v", st, out, err)
		}
		if err := json.Unmarshal(out, &p); err != nil {
			b.Fatal(err)
		}
		refresh = p.Refresh
	}
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	okN, busyN := ok.Load()-ok0, busy.Load()-busy0
	stop()
	wg.Wait()
	reportLatency(b, lat)
	if flooders > 0 {
		b.ReportMetric(float64(okN)/elapsed, "flood-200/s")
		b.ReportMetric(float64(busyN)/elapsed, "flood-503/s")
		if n := other.Load(); n > 0 {
			b.Errorf("%d flood logins got neither 200 nor 503", n)
		}
	}
}

// reportLatency adds p50 and p99 of lat (in milliseconds) to b's output.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		i := int(q * float64(len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// TestLoginLockoutConcurrent: attempts sent at once must not get more
// password checks than the limit allows: after 5 failures of the pair,
// every further attempt is 429, however the attempts are timed.
func TestLoginLockoutConcurrent(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Race", "race@example.com", password)
		const n = 20
		answers := make([]response, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				answers[i] = e.attempt("race@example.com", fmt.Sprintf("guess-%d", i), "203.0.113.99")
			})
		}
		close(start)
		wg.Wait()
		checked := 0
		for i, r := range answers {
			switch r.status {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
			default:
				t.Errorf("attempt %d: %d %s", i, r.status, r.body)
			}
		}
		if checked > 5 {
			t.Errorf("%d of %d simultaneous guesses had their password checked; the pair limit is 5", checked, n)
		}
	})
}

// TestLoginLockoutEmailVariants: every spelling of the email that logs in
// to the account counts toward the same limits.
func TestLoginLockoutEmailVariants(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, proxied)
		e.register("Victim", "victim@example.com", password)
		const ip = "203.0.113.50"
		for range 5 {
			wantAnswer(t, "failure", e.attempt("victim@example.com", "guess", ip), 401, bodyBadCreds)
		}
		for _, variant := range []string{"victim@example.com\u001c", "\u001dvictim@example.com", "victim@example.com\u001e\u001f", " VICTIM@example.com\u001c "} {
			// The variant is the same account: it logs in from elsewhere.
			wantAnswer(t, "variant from elsewhere", e.attempt(variant, password, "198.51.100.1"), 200, "")
			wantThrottled(t, fmt.Sprintf("variant %q from the blocked pair's IP", variant), e.attempt(variant, "guess", ip), 30)
		}
	})
}
