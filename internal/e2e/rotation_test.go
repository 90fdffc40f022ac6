package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadStats is what the clients of a load test saw.
type loadStats struct {
	mu        sync.Mutex
	logins    int
	refreshes int
	rsCalls   int
	kids      map[string]time.Time // access-token kid → first seen
	failures  []string
	// revokedCalls are calls with a token of the revoked key that ended
	// after the revocation began: either answer is right until the
	// resource server's JWKS has been refreshed, only 401 after.
	revokedCalls []revokedCall
}

type revokedCall struct {
	start  time.Time
	status int
}

func (s *loadStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

func (s *loadStats) sawKid(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kids[kid]; !ok {
		s.kids[kid] = time.Now()
	}
}

func (s *loadStats) distinctKids() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kids)
}

// revocation is published to the clients before `idp keys revoke` runs.
type revocation struct {
	kid   string
	start time.Time
}

// TestRotationUnderLoad runs idp (PostgreSQL) and the resource server as
// separate processes. Clients log in, refresh and call the resource server
// continuously while the access-token keys rotate on a 5 s schedule, once
// by `idp keys rotate`, and one key is revoked with `idp keys revoke`:
// no token of a non-revoked key may fail; the revoked key's tokens fail at
// idp within keys.check_interval and at the resource server once its JWKS
// refreshes. Both windows are measured.
func TestRotationUnderLoad(t *testing.T) {
	needE2E(t)
	const (
		clients    = 4
		minRun     = 24 * time.Second
		maxRun     = 75 * time.Second
		pace       = 20 * time.Millisecond // between a client's iterations
		loginEvery = 40                    // iterations; the others refresh
		minRefetch = time.Second           // the resource server's --min-refetch-interval
	)
	d := newDeployment(t, map[string]string{
		"IDP_KEYS_ROTATION_PERIOD": "5s",
		"IDP_KEYS_PREPUBLISH":      "3s",
		"IDP_TOKENS_ACCESS_TTL":    "10s",
	})
	prepublish := 3 * time.Second
	idp := d.start(t, "idp")
	rs := startResourceServer(t, d.issuer, "--min-refetch-interval", minRefetch.String())

	type cred struct{ email, password string }
	creds := make([]cred, clients+1) // the last one is the controller's
	for i := range creds {
		creds[i].email, creds[i].password = newUser(t, idp.api, fmt.Sprintf("load%d", i))
	}

	stats := &loadStats{kids: map[string]time.Time{}}
	var revoked atomic.Pointer[revocation]
	call := func(token string) {
		start := time.Now()
		st, err := rs.whoami(token)
		end := time.Now()
		stats.mu.Lock()
		stats.rsCalls++
		stats.mu.Unlock()
		if err != nil {
			stats.fail("resource server: %v", err)
			return
		}
		if r := revoked.Load(); r != nil && kidOf(token) == r.kid && end.After(r.start) {
			stats.mu.Lock()
			stats.revokedCalls = append(stats.revokedCalls, revokedCall{start, st})
			stats.mu.Unlock()
			return
		}
		if st != 200 {
			stats.fail("resource server: %d for a token of key %s", st, kidOf(token))
		}
	}

	ctx, stopClients := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stopClients(); wg.Wait() }) // before the processes stop
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := idp.api
			var pair tokenPair
			type held struct {
				token  string
				issued time.Time
			}
			var older []held
			for i := 0; ctx.Err() == nil; i++ {
				var err error
				if i%loginEvery == 0 {
					pair, err = a.login(creds[c].email, creds[c].password)
					stats.mu.Lock()
					stats.logins++
					stats.mu.Unlock()
				} else {
					pair, err = a.refresh(pair.Refresh)
					stats.mu.Lock()
					stats.refreshes++
					stats.mu.Unlock()
				}
				if err != nil {
					stats.fail("client %d: login/refresh: %v", c, err)
					i = -1 // log in again
				} else {
					stats.sawKid(kidOf(pair.Access))
					call(pair.Access)
					// And a token issued a few seconds ago, perhaps by a
					// key retired since.
					for len(older) > 0 && time.Since(older[0].issued) > 6*time.Second {
						older = older[1:]
					}
					if len(older) > 0 {
						call(older[rand.IntN(len(older))].token)
					}
					older = append(older, held{pair.Access, time.Now()})
				}
				select {
				case <-ctx.Done():
				case <-time.After(pace):
				}
			}
		}()
	}

	began := time.Now()
	waitKids := func(n int) {
		pollUntil(t, fmt.Sprintf("%d access-token keys seen by the clients", n), 50*time.Millisecond, 30*time.Second,
			func() bool { return stats.distinctKids() >= n })
	}

	// A scheduled rotation, then one by the operator (not forced: refused
	// until the next key has been published for keys.prepublish).
	waitKids(2)
	var tries int
	pollUntil(t, "idp keys rotate accepted", 100*time.Millisecond, 15*time.Second, func() bool {
		tries++
		_, err := d.cli("keys", "rotate", "--alg", "RS256")
		if err != nil && !strings.Contains(err.Error(), "--force") {
			t.Fatal(err)
		}
		return err == nil
	})
	t.Logf("idp keys rotate accepted after %d tries", tries)
	waitKids(4)

	// Revoke the active key while its successor has been published long
	// enough for every verifier to have it (as a scheduled rotation would).
	var victim string
	var victimToken string
	pollUntil(t, "a moment to revoke the active key", 50*time.Millisecond, 15*time.Second, func() bool {
		var active, next keyInfo
		for _, k := range d.keys(t) {
			if k.Alg == "RS256" && k.State == "active" {
				active = k
			}
			if k.Alg == "RS256" && k.State == "next" {
				next = k
			}
		}
		if time.Since(next.Created) < prepublish {
			return false
		}
		p, err := idp.login(creds[clients].email, creds[clients].password)
		must(t, err)
		victim, victimToken = kidOf(p.Access), p.Access
		return victim == active.KID
	})
	if st, err := rs.whoami(victimToken); err != nil || st != 200 {
		t.Fatalf("before revocation the resource server answers %d, %v", st, err)
	}
	if st, err := idp.verify(victimToken); err != nil || st != 200 {
		t.Fatalf("before revocation idp verify answers %d, %v", st, err)
	}
	revokeStart := time.Now()
	revoked.Store(&revocation{kid: victim, start: revokeStart})
	d.mustCLI(t, "keys", "revoke", "--reason", "e2e rotation under load", "--", victim) // "--": a kid may start with "-"
	revokeEnd := time.Now()
	idpWindow := pollUntil(t, "idp refuses the revoked key's token", 10*time.Millisecond, 10*time.Second, func() bool {
		st, err := idp.verify(victimToken)
		must(t, err)
		return st == 401
	})
	pollUntil(t, "the resource server refuses the revoked key's token", 10*time.Millisecond, 20*time.Second, func() bool {
		st, err := rs.whoami(victimToken)
		must(t, err)
		return st == 401
	})
	rsClosed := time.Now()
	rsWindow := rsClosed.Sub(revokeEnd)
	// From then on, every call with it must fail, at both.
	var probes int
	for time.Since(began) < minRun || stats.distinctKids() < 5 {
		if time.Since(began) > maxRun {
			t.Fatalf("after %s only %d access-token keys seen", maxRun, stats.distinctKids())
		}
		if st, err := rs.whoami(victimToken); err != nil || st != 401 {
			t.Errorf("resource server answers %d, %v to the revoked key's token after its window", st, err)
		}
		if st, err := idp.verify(victimToken); err != nil || st != 401 {
			t.Errorf("idp verify answers %d, %v to the revoked key's token", st, err)
		}
		probes++
		time.Sleep(100 * time.Millisecond)
	}
	stopClients()
	wg.Wait()
	elapsed := time.Since(began)

	var lateAccepted, revokedOK int
	for _, c := range stats.revokedCalls {
		if c.status == 200 {
			revokedOK++
			if c.start.After(rsClosed) {
				lateAccepted++
			}
		}
	}
	if lateAccepted > 0 {
		t.Errorf("%d calls accepted a token of the revoked key after the resource server had refused it", lateAccepted)
	}
	for _, f := range stats.failures {
		t.Errorf("failure: %s", f)
	}
	type seen struct {
		kid string
		at  time.Time
	}
	var order []seen
	for k, at := range stats.kids {
		order = append(order, seen{k, at})
	}
	sort.Slice(order, func(i, j int) bool { return order[i].at.Before(order[j].at) })
	rotations := len(order) - 1
	if rotations < 4 { // ≥ 3 rotations besides the revoked key's successor taking over
		t.Errorf("%d access-key changes seen by the clients, want at least 4", rotations)
	}
	if bound := d.checkEvery + time.Second; idpWindow > bound {
		t.Errorf("idp refused the revoked key's token %s after the revocation, want within keys.check_interval (%s) + 1s", idpWindow, d.checkEvery)
	}
	if bound := d.checkEvery + d.jwksMaxAge + minRefetch + 2*time.Second; rsWindow > bound {
		t.Errorf("the resource server refused the revoked key's token %s after the revocation, want within %s", rsWindow, bound)
	}
	t.Logf("rotation under load: %s, %d clients: %d logins, %d refreshes, %d resource-server calls (%d failures); "+
		"%d access-key changes (%d keys signed, %s revoked); revocation: idp refuses after %s (keys.check_interval %s), "+
		"resource server after %s (jwks.max_age %s, --min-refetch-interval %s), `idp keys revoke` took %s; "+
		"%d calls with the revoked key's token after revocation began (%d accepted, all before the window closed), %d probes after",
		elapsed.Round(time.Second), clients, stats.logins, stats.refreshes, stats.rsCalls, len(stats.failures),
		rotations, len(order), victim[:8], idpWindow.Round(time.Millisecond), d.checkEvery,
		rsWindow.Round(time.Millisecond), d.jwksMaxAge, minRefetch, revokeEnd.Sub(revokeStart).Round(time.Millisecond),
		len(stats.revokedCalls), revokedOK, probes)
}
