package throttle_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/throttle"
)

// The Guard against real stores (both backends): the block arithmetic,
// what is counted under which key, the audit trail and the cleanup. The
// clock is injected; nothing sleeps.

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// guardEnv is one Guard over a store with its own clock.
type guardEnv struct {
	t     *testing.T
	store storage.Store
	clock *clock
	g     *throttle.Guard
}

func newGuard(t *testing.T, store storage.Store, p throttle.Policy) *guardEnv {
	t.Helper()
	c := &clock{t: t0}
	g, err := throttle.New(throttle.Options{Store: store, Audit: store, Policy: p, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &guardEnv{t: t, store: store, clock: c, g: g}
}

func attempt(email, ip string) throttle.Attempt {
	return throttle.Attempt{Email: email, IP: ip, UserAgent: "test-agent/1.0"}
}

// fail is one login attempt with a wrong password: admitted (counted
// on its pair) then failed; a refused attempt checks no password.
func (e *guardEnv) fail(a throttle.Attempt) {
	e.t.Helper()
	wait, err := e.g.Admit(context.Background(), a)
	if err != nil {
		e.t.Fatalf("Admit(%+v): %v", a, err)
	}
	if wait > 0 {
		return
	}
	if err := e.g.Failed(context.Background(), a); err != nil {
		e.t.Fatalf("Failed(%+v): %v", a, err)
	}
}

func (e *guardEnv) failN(n int, a throttle.Attempt) {
	e.t.Helper()
	for range n {
		e.fail(a)
	}
}

func (e *guardEnv) wait(a throttle.Attempt) time.Duration {
	e.t.Helper()
	d, err := e.g.Blocked(context.Background(), a)
	if err != nil {
		e.t.Fatalf("Blocked(%+v): %v", a, err)
	}
	return d
}

func (e *guardEnv) wantWait(what string, a throttle.Attempt, want time.Duration) {
	e.t.Helper()
	if got := e.wait(a); got != want {
		e.t.Errorf("%s: Check(%s from %s) = %v, want %v", what, a.Email, a.IP, got, want)
	}
}

func (e *guardEnv) succeed(a throttle.Attempt, userID int64) {
	e.t.Helper()
	if err := e.g.Succeeded(context.Background(), a, userID); err != nil {
		e.t.Fatalf("Succeeded: %v", err)
	}
}

func (e *guardEnv) audit() []storage.AuditEvent {
	e.t.Helper()
	ev, err := e.store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func TestNew(t *testing.T) {
	store := storagetest.SQLite(t)
	tests := []struct {
		name    string
		opts    throttle.Options
		wantErr string
	}{
		{"zero-policy-takes-defaults", throttle.Options{Store: store}, ""},
		{"no-store", throttle.Options{}, "Store is required"},
		{"negative-window", throttle.Options{Store: store, Policy: throttle.Policy{Window: -time.Second}}, "invalid policy"},
		{"negative-limit", throttle.Options{Store: store, Policy: throttle.Policy{PairLimit: -1}}, "invalid policy"},
		{"max-block-below-block", throttle.Options{Store: store, Policy: throttle.Policy{Block: time.Hour, MaxBlock: time.Minute}}, "invalid policy"},
		{"negative-account-block", throttle.Options{Store: store, Policy: throttle.Policy{AccountBlock: -time.Minute}}, "invalid policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := throttle.New(tt.opts)
			if tt.wantErr == "" {
				if err != nil || g == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	got := throttle.DefaultPolicy()
	want := throttle.Policy{
		Window: 15 * time.Minute, PairLimit: 5, IPLimit: 100, AccountLimit: 50,
		Block: 30 * time.Second, MaxBlock: 15 * time.Minute, AccountBlock: time.Minute,
		KnownFor: 30 * 24 * time.Hour,
	}
	if got != want {
		t.Fatalf("DefaultPolicy() = %+v, want %+v", got, want)
	}
}

// step is one thing that happens to a Guard, then what Check must say.
type step struct {
	name    string
	advance time.Duration
	fails   int              // failures of the attempt after advancing
	check   throttle.Attempt // zero: the case's attempt
	want    time.Duration
}

func runSteps(t *testing.T, e *guardEnv, a throttle.Attempt, steps []step) {
	t.Helper()
	for _, s := range steps {
		e.clock.Advance(s.advance)
		e.failN(s.fails, a)
		c := s.check
		if c == (throttle.Attempt{}) {
			c = a
		}
		e.wantWait(s.name, c, s.want)
	}
}

func TestBlockArithmetic(t *testing.T) {
	long := throttle.Policy{Window: 24 * time.Hour, PairLimit: 5, IPLimit: 1000, AccountLimit: 1000,
		Block: 30 * time.Second, MaxBlock: 3 * time.Minute, AccountBlock: time.Minute}
	alice := attempt("alice@example.com", "192.0.2.1")
	tests := []struct {
		name   string
		policy throttle.Policy
		a      throttle.Attempt
		steps  []step
	}{
		{name: "pair/defaults-block-30s-after-5", policy: throttle.Policy{}, a: alice, steps: []step{
			{name: "4-failures-allowed", fails: 4, want: 0},
			{name: "5th-blocks-30s", fails: 1, want: 30 * time.Second},
			{name: "block-counts-down", advance: 10 * time.Second, want: 20 * time.Second},
			{name: "last-second", advance: 19 * time.Second, want: time.Second},
			{name: "block-over", advance: time.Second, want: 0},
			{name: "6th-doubles-to-60s", fails: 1, want: time.Minute},
			{name: "over-again", advance: time.Minute, want: 0},
			{name: "7th-doubles-to-2m", fails: 1, want: 2 * time.Minute},
		}},
		{name: "pair/doubling-capped-at-max-block", policy: long, a: alice, steps: []step{
			{name: "5-failures", fails: 5, want: 30 * time.Second},
			{name: "6th", advance: 30 * time.Second, fails: 1, want: time.Minute},
			{name: "7th", advance: time.Minute, fails: 1, want: 2 * time.Minute},
			{name: "8th-capped", advance: 2 * time.Minute, fails: 1, want: 3 * time.Minute},
			{name: "9th-stays-capped", advance: 3 * time.Minute, fails: 1, want: 3 * time.Minute},
			{name: "many-more-stay-capped", advance: 3 * time.Minute, fails: 50, want: 3 * time.Minute},
		}},
		{name: "pair/window-restart-forgets-failures", policy: throttle.Policy{}, a: alice, steps: []step{
			{name: "4-failures", fails: 4, want: 0},
			{name: "window-over-then-4-more", advance: 15 * time.Minute, fails: 4, want: 0},
			{name: "5th-of-new-window-blocks-30s", fails: 1, want: 30 * time.Second},
		}},
		{name: "pair/failures-spread-over-window-count", policy: throttle.Policy{}, a: alice, steps: []step{
			{name: "1", fails: 1, want: 0},
			{name: "2", advance: 3 * time.Minute, fails: 1, want: 0},
			{name: "3", advance: 3 * time.Minute, fails: 1, want: 0},
			{name: "4", advance: 3 * time.Minute, fails: 1, want: 0},
			{name: "5-just-inside-window", advance: 6*time.Minute - time.Second, fails: 1, want: 30 * time.Second},
		}},
		{name: "pair/other-account-same-ip-unaffected", policy: throttle.Policy{}, a: alice, steps: []step{
			{name: "pair-blocked", fails: 5, want: 30 * time.Second},
			{name: "bob-same-ip", check: attempt("bob@example.com", "192.0.2.1"), want: 0},
			{name: "alice-other-ip", check: attempt("alice@example.com", "198.51.100.9"), want: 0},
		}},
		{name: "account/block-doubles-for-the-attacker", policy: throttle.Policy{AccountLimit: 3, AccountBlock: time.Minute, MaxBlock: 5 * time.Minute, PairLimit: 100, IPLimit: 100},
			a: alice, steps: []step{
				{name: "2-allowed", fails: 2, want: 0},
				{name: "3rd-blocks-1m", fails: 1, want: time.Minute},
				{name: "from-any-unknown-ip", check: attempt("alice@example.com", "203.0.113.77"), want: time.Minute},
				{name: "free-after-1m", advance: time.Minute, want: 0},
				{name: "4th-doubles-to-2m", fails: 1, want: 2 * time.Minute},
				{name: "5th-4m", advance: 2 * time.Minute, fails: 1, want: 4 * time.Minute},
				{name: "6th-capped-at-max-block", advance: 4 * time.Minute, fails: 1, want: 5 * time.Minute},
			}},
		{name: "ip/progressive-like-pair", policy: throttle.Policy{IPLimit: 2, PairLimit: 100, AccountLimit: 100}, a: alice, steps: []step{
			{name: "1-allowed", fails: 1, want: 0},
			{name: "2nd-blocks-ip-30s", fails: 1, want: 30 * time.Second},
			{name: "any-account-from-ip", check: attempt("carol@example.com", "192.0.2.1"), want: 30 * time.Second},
			{name: "3rd-doubles", advance: 30 * time.Second, fails: 1, want: time.Minute},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
				runSteps(t, newGuard(t, s, tt.policy), tt.a, tt.steps)
			})
		})
	}
}

// TestLongestBlockWins: when several keys are blocked, Check answers the
// longest wait.
func TestLongestBlockWins(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{PairLimit: 2, AccountLimit: 2, AccountBlock: 10 * time.Minute, Block: 30 * time.Second})
		a := attempt("alice@example.com", "192.0.2.1")
		e.failN(2, a)
		e.wantWait("account block outlasts the pair block", a, 10*time.Minute)
	})
}

func TestPerIPAcrossAccounts(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{})
		// 100 failures from one address, each on a different account (no
		// pair nor account reaches its limit).
		for i := range 100 {
			if d := e.wait(attempt(accountName(i), "192.0.2.50")); d != 0 {
				t.Fatalf("attempt %d refused (%v) before the IP limit", i, d)
			}
			e.fail(attempt(accountName(i), "192.0.2.50"))
		}
		for _, c := range []struct {
			name string
			a    throttle.Attempt
			want time.Duration
		}{
			{"new-account-same-ip", attempt("fresh@example.com", "192.0.2.50"), 30 * time.Second},
			{"sprayed-account-same-ip", attempt(accountName(3), "192.0.2.50"), 30 * time.Second},
			{"same-account-other-ip", attempt(accountName(3), "192.0.2.51"), 0},
			{"other-ip", attempt("fresh@example.com", "198.51.100.1"), 0},
		} {
			e.wantWait(c.name, c.a, c.want)
		}
	})
}

func accountName(i int) string {
	return "user" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"
}

// TestKeys: what counts as the same account and the same client.
func TestKeys(t *testing.T) {
	tests := []struct {
		name    string
		fails   []throttle.Attempt // one failure each; PairLimit is their count
		blocked []throttle.Attempt
		free    []throttle.Attempt
	}{
		{
			// The caller strips (users.NormalizeEmail); the Guard folds case.
			name: "email-case",
			fails: []throttle.Attempt{
				attempt("Alice@Example.com", "192.0.2.1"),
				attempt("alice@example.com", "192.0.2.1"),
				attempt("ALICE@EXAMPLE.COM", "192.0.2.1"),
			},
			blocked: []throttle.Attempt{attempt("alice@example.com", "192.0.2.1"), attempt("aLiCe@eXaMpLe.CoM", "192.0.2.1")},
			free:    []throttle.Attempt{attempt("alice@example.org", "192.0.2.1"), attempt("alice2@example.com", "192.0.2.1")},
		},
		{
			name: "email-unicode-case",
			fails: []throttle.Attempt{
				attempt("ÉLODIE@exemple.fr", "192.0.2.1"),
				attempt("élodie@EXEMPLE.fr", "192.0.2.1"),
			},
			blocked: []throttle.Attempt{attempt("Élodie@exemple.fr", "192.0.2.1")},
			free:    []throttle.Attempt{attempt("elodie@exemple.fr", "192.0.2.1")},
		},
		{
			name: "ipv6-same-64",
			fails: []throttle.Attempt{
				attempt("alice@example.com", "2001:db8:1:2::1"),
				attempt("alice@example.com", "2001:db8:1:2:ffff:ffff:ffff:ffff"),
				attempt("alice@example.com", "2001:DB8:1:2:0:0:0:abcd"),
			},
			blocked: []throttle.Attempt{attempt("alice@example.com", "2001:db8:1:2::42")},
			free: []throttle.Attempt{
				attempt("alice@example.com", "2001:db8:1:3::1"),
				attempt("alice@example.com", "2001:db8:1::1"),
			},
		},
		{
			name: "ipv4-mapped-is-ipv4",
			fails: []throttle.Attempt{
				attempt("alice@example.com", "::ffff:192.0.2.9"),
				attempt("alice@example.com", "192.0.2.9"),
			},
			blocked: []throttle.Attempt{attempt("alice@example.com", "192.0.2.9"), attempt("alice@example.com", "::ffff:c000:209")},
			free:    []throttle.Attempt{attempt("alice@example.com", "192.0.2.10")},
		},
		{
			name: "ipv4-not-grouped",
			fails: []throttle.Attempt{
				attempt("alice@example.com", "192.0.2.1"),
				attempt("alice@example.com", "192.0.2.1"),
			},
			blocked: []throttle.Attempt{attempt("alice@example.com", "192.0.2.1")},
			free:    []throttle.Attempt{attempt("alice@example.com", "192.0.2.2"), attempt("alice@example.com", "192.0.3.1")},
		},
		{
			name: "unparseable-ip-is-its-own-key",
			fails: []throttle.Attempt{
				attempt("alice@example.com", "not-an-ip"),
				attempt("alice@example.com", "not-an-ip"),
			},
			blocked: []throttle.Attempt{attempt("alice@example.com", "not-an-ip")},
			free:    []throttle.Attempt{attempt("alice@example.com", ""), attempt("alice@example.com", "192.0.2.1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
				p := throttle.Policy{PairLimit: int64(len(tt.fails)), IPLimit: 1000, AccountLimit: 1000}
				e := newGuard(t, s, p)
				for _, a := range tt.fails {
					e.fail(a)
				}
				for _, a := range tt.blocked {
					e.wantWait("same key", a, 30*time.Second)
				}
				for _, a := range tt.free {
					e.wantWait("other key", a, 0)
				}
			})
		})
	}
}

// TestSucceededResetsPairOnly: a success forgets the pair's failures,
// not the IP's or the account's.
func TestSucceededResetsPairOnly(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{PairLimit: 5, IPLimit: 8, AccountLimit: 1000})
		a := attempt("alice@example.com", "192.0.2.1")
		e.failN(4, a)
		e.succeed(a, 42)
		e.failN(3, a)
		e.wantWait("7 failures, reset after 4: the pair is at 3", a, 0)
		e.fail(a)
		// The IP saw 8 failures: blocked for everyone from it.
		e.wantWait("the IP counts every failure", attempt("bob@example.com", "192.0.2.1"), 30*time.Second)
		e.wantWait("the pair is at 4, the IP decides", a, 30*time.Second)
	})
}

func TestAudit(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{PairLimit: 2})
		a := throttle.Attempt{Email: "Alice@Example.com", Identifier: "Alice@example.com", IP: "2001:db8::7", UserAgent: "agent/2.0 (probe)"}
		e.wantWait("fresh", a, 0)
		e.fail(a)
		e.fail(a)
		for range 3 {
			if d, err := e.g.Admit(context.Background(), a); err != nil || d != 30*time.Second {
				t.Fatalf("Admit while blocked = %v, %v; want 30s", d, err)
			}
		}
		e.g.FlushRefusals(context.Background(), false)
		if n := len(e.audit()); n != 2 {
			t.Fatalf("%d events while the block runs, want the 2 failures only", n)
		}
		e.clock.Advance(30 * time.Second)
		e.wantWait("free", a, 0)
		e.g.FlushRefusals(context.Background(), false) // the block is over: its one event
		e.succeed(a, 77)

		events := e.audit()
		type ev struct {
			typ    string
			userID int64
			at     time.Time
		}
		want := []ev{
			{"login.failed", 0, t0},
			{"login.failed", 0, t0},
			{"login.throttled", 0, t0},
			{"login.succeeded", 77, t0.Add(30 * time.Second)},
		}
		if len(events) != len(want) {
			t.Fatalf("audit events %+v, want %d", events, len(want))
		}
		for i, w := range want {
			got := events[i]
			if got.Type != w.typ || got.UserID != w.userID || !got.At.Equal(w.at) ||
				got.IP != a.IP || got.UserAgent != a.UserAgent || got.FamilyID != "" {
				t.Errorf("event %d = %+v, want %s user %d at %v from %s/%s", i, got, w.typ, w.userID, w.at, a.IP, a.UserAgent)
			}
			if !strings.Contains(got.Detail, "Alice@example.com") {
				t.Errorf("event %d detail %q does not name the identifier given", i, got.Detail)
			}
		}
		if d := events[2].Detail; !strings.Contains(d, "3 attempts refused") || !strings.Contains(d, "account from this IP") {
			t.Errorf("throttled detail %q: want the count and the scope", d)
		}
	})
}

func TestAuditDetailBounded(t *testing.T) {
	s := storagetest.SQLite(t)
	e := newGuard(t, s, throttle.Policy{})
	long := "a" + strings.Repeat("é", 300) + "@example.com" // 613 bytes; byte 100 splits a rune
	e.fail(attempt(long, "192.0.2.1"))
	events := e.audit()
	if len(events) != 1 {
		t.Fatalf("events %+v", events)
	}
	if d := events[0].Detail; len(d) > 200 || strings.Contains(d, "@example.com") {
		t.Errorf("detail not bounded (%d bytes): %q", len(d), d)
	}
}

func TestNoAuditStore(t *testing.T) {
	s := storagetest.SQLite(t)
	g, err := throttle.New(throttle.Options{Store: s, Policy: throttle.Policy{PairLimit: 1}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	a := attempt("alice@example.com", "192.0.2.1")
	if d, err := g.Admit(context.Background(), a); err != nil || d != 0 {
		t.Fatalf("Admit = %v, %v", d, err)
	}
	if err := g.Failed(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if d, err := g.Blocked(context.Background(), a); err != nil || d != 30*time.Second {
		t.Fatalf("Blocked = %v, %v", d, err)
	}
	if err := g.Succeeded(context.Background(), a, 1); err != nil {
		t.Fatal(err)
	}
	if ev, _ := s.ListAudit(context.Background(), 0, 10); len(ev) != 0 {
		t.Fatalf("events recorded without an Audit store: %+v", ev)
	}
}

// TestCleanup: state whose window is over and whose block has ended goes;
// anything that can still refuse an attempt or count toward a block stays.
func TestCleanup(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{PairLimit: 3, IPLimit: 1000, AccountLimit: 1000, MaxBlock: time.Hour, Block: 40 * time.Minute})
		ctx := context.Background()
		old := attempt("old@example.com", "192.0.2.1")         // 1 failure at t0: 3 keys
		blocked := attempt("blocked@example.com", "192.0.2.2") // pair blocked 40 min from t0
		e.fail(old)
		e.failN(3, blocked)
		e.clock.Advance(15*time.Minute + time.Second)
		recent := attempt("recent@example.com", "192.0.2.3") // in its window
		e.fail(recent)

		n, err := e.g.Cleanup(ctx, 2) // batches of 2: several statements
		if err != nil {
			t.Fatal(err)
		}
		// old's 3 keys and blocked's IP and account keys (not blocked) go;
		// blocked's pair (blocked till t0+40m) and recent's 3 keys stay.
		if n != 5 {
			t.Errorf("Cleanup deleted %d, want 5", n)
		}
		e.wantWait("a running block survives the cleanup", blocked, 40*time.Minute-15*time.Minute-time.Second)
		e.failN(2, recent)
		e.wantWait("recent failures survive the cleanup", recent, 40*time.Minute)
		e.failN(2, old)
		e.wantWait("old failures were forgotten", old, 0)

		if n, err := e.g.Cleanup(ctx, 100); err != nil || n != 0 {
			t.Errorf("second Cleanup = %d, %v; want nothing left to delete", n, err)
		}
		// Once every window and block is over, everything goes.
		e.clock.Advance(2 * time.Hour)
		// blocked's pair, recent's 3 keys, old's 3 new keys.
		if n, err := e.g.Cleanup(ctx, 100); err != nil || n != 7 {
			t.Errorf("late Cleanup = %d, %v; want 7", n, err)
		}
		e.wantWait("nothing blocked", blocked, 0)
	})
}

// TestCleanupZeroBatch: a non-positive batch must not spin forever.
func TestCleanupZeroBatch(t *testing.T) {
	s := storagetest.SQLite(t)
	e := newGuard(t, s, throttle.Policy{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = e.g.Cleanup(ctx, 0)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Cleanup(ctx, 0) did not return")
	}
}

// TestConcurrentFailures: failures counted by many goroutines at once (as
// by several instances) are all counted: the limit is reached exactly.
func TestConcurrentFailures(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{PairLimit: 40, IPLimit: 1000, AccountLimit: 1000})
		a := attempt("alice@example.com", "192.0.2.1")
		var wg sync.WaitGroup
		errs := make(chan error, 39)
		for range 39 {
			wg.Go(func() {
				if d, err := e.g.Admit(context.Background(), a); err != nil || d != 0 {
					errs <- fmt.Errorf("Admit = %v, %v", d, err)
					return
				}
				errs <- e.g.Failed(context.Background(), a)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		e.wantWait("39 of 40", a, 0)
		e.fail(a)
		e.wantWait("40 of 40", a, 30*time.Second)
	})
}
