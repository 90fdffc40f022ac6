package throttle_test

import (
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
	"github.com/idp/idp/internal/throttle"
)

// The account-wide block is not a switch an attacker can hold: owners
// with a device cookie or from a known source are not subject to it, and
// their successes do not reset what attackers ran up.

func withDevice(a throttle.Attempt, device string) throttle.Attempt {
	a.Device = device
	return a
}

func TestAccountBlockSparesKnownClients(t *testing.T) {
	const victim = "victim@example.com"
	p := throttle.Policy{AccountLimit: 10, PairLimit: 5, IPLimit: 100}
	attackers := func(e *guardEnv) {
		// 10 attackers, 2 failures each: the account is at its limit, no
		// pair is.
		for i := range 5 {
			e.failN(2, attempt(victim, "203.0.113."+string(rune('1'+i))))
		}
		for i := range 5 {
			e.failN(1, attempt(victim, "198.18.0."+string(rune('1'+i))))
		}
	}
	cases := []struct {
		name  string
		setup func(e *guardEnv) // before the attack
		check throttle.Attempt
		want  time.Duration
	}{
		{name: "unknown-ip/blocked", check: attempt(victim, "192.0.2.200"), want: time.Minute},
		{name: "device-cookie/exempt", check: withDevice(attempt(victim, "192.0.2.200"), "dev-1"), want: 0},
		{name: "device-cookie-from-attacker-ip/exempt", check: withDevice(attempt(victim, "203.0.113.1"), "dev-1"), want: 0},
		{name: "known-source/exempt",
			setup: func(e *guardEnv) { e.succeed(attempt(victim, "192.0.2.7"), 1) },
			check: attempt(victim, "192.0.2.7"), want: 0},
		{name: "known-source-expires",
			setup: func(e *guardEnv) {
				e.succeed(attempt(victim, "192.0.2.7"), 1)
				e.clock.Advance(30*24*time.Hour + time.Second)
			},
			check: attempt(victim, "192.0.2.7"), want: time.Minute},
		{name: "known-for-another-account-only",
			setup: func(e *guardEnv) { e.succeed(attempt("other@example.com", "192.0.2.7"), 2) },
			check: attempt(victim, "192.0.2.7"), want: time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
				e := newGuard(t, s, p)
				if tc.setup != nil {
					tc.setup(e)
				}
				attackers(e)
				e.wantWait(tc.name, tc.check, tc.want)
			})
		})
	}
}

// TestDeviceCountsOnItsOwn: a device cookie is throttled like a pair (a
// stolen cookie buys no more guesses), and does not touch the pair.
func TestDeviceCountsOnItsOwn(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{PairLimit: 3, AccountLimit: 1000, IPLimit: 1000})
		d := withDevice(attempt("alice@example.com", "192.0.2.1"), "dev-9")
		e.failN(3, d)
		e.wantWait("device blocked after 3", d, 30*time.Second)
		e.wantWait("pair from the same IP untouched", attempt("alice@example.com", "192.0.2.1"), 0)
		e.wantWait("another device free", withDevice(attempt("alice@example.com", "192.0.2.1"), "dev-10"), 0)
	})
}

// TestSuccessDoesNotResetOthers: the owner's success (with a device, or
// from another IP) leaves the account's and the attackers' counts as they
// were: the attackers stay blocked.
func TestSuccessDoesNotResetOthers(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, s storage.Store) {
		e := newGuard(t, s, throttle.Policy{PairLimit: 3, AccountLimit: 6, IPLimit: 1000})
		att1, att2 := attempt("alice@example.com", "203.0.113.1"), attempt("alice@example.com", "203.0.113.2")
		e.failN(3, att1)
		e.failN(2, att2)
		owner := withDevice(attempt("alice@example.com", "203.0.113.2"), "dev-1") // same NAT as att2
		e.succeed(owner, 1)
		e.succeed(attempt("alice@example.com", "198.51.100.1"), 1)
		e.wantWait("attacker 1's pair still blocked", att1, 30*time.Second)
		e.fail(att2)
		e.wantWait("attacker 2's pair kept its 2 failures", att2, 30*time.Second)
		e.wantWait("account reached 6 from unknown sources", attempt("alice@example.com", "192.0.2.99"), time.Minute)
	})
}
