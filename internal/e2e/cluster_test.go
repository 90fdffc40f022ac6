package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// jwksWatch records, per instance, when each JWKS ETag was first served.
type jwksWatch struct {
	mu    sync.Mutex
	first map[string][]time.Time // ETag → first seen per instance (zero: not yet)
	kids  map[string][]string    // ETag → kids
	polls int
}

func (w *jwksWatch) seen(i, n int, etag string, kids []string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	if w.first[etag] == nil {
		w.first[etag] = make([]time.Time, n)
		w.kids[etag] = kids
	}
	if w.first[etag][i].IsZero() {
		w.first[etag][i] = at
	}
}

// servedBy returns when instance i first served a JWKS holding kid.
func (w *jwksWatch) servedBy(i int, kid string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first time.Time
	for etag, times := range w.first {
		if t := times[i]; !t.IsZero() && slices.Contains(w.kids[etag], kid) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first, !first.IsZero()
}

// spreads returns, for each ETag every instance served, how long after
// the first instance the last one served it.
func (w *jwksWatch) spreads() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, times := range w.first {
		if slices.ContainsFunc(times, time.Time.IsZero) {
			continue
		}
		lo, hi := times[0], times[0]
		for _, t := range times[1:] {
			lo, hi = minTime(lo, t), maxTime(hi, t)
		}
		out = append(out, hi.Sub(lo))
	}
	slices.Sort(out)
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestCluster runs three idp instances on one PostgreSQL schema. Clients
// log in on one, refresh on a second and verify on a third while keys
// rotate on a 4 s schedule (exactly one instance does each rotation) and
// once by the CLI; every instance serves every change within
// keys.check_interval, the JWKS of all three converge (same ETag), and 30
// concurrent refreshes of one token spread over the three never fork its
// session.
func TestCluster(t *testing.T) {
	needE2E(t)
	const (
		n       = 3
		minRun  = 12 * time.Second
		storm   = 30
		storms  = 3
		slack   = time.Second // polling, scheduling, a loaded CI machine
		pollGap = 20 * time.Millisecond
	)
	d := newDeployment(t, map[string]string{
		"IDP_KEYS_CHECK_INTERVAL":  "1s",
		"IDP_KEYS_ROTATION_PERIOD": "4s",
		"IDP_KEYS_PREPUBLISH":      "3s",
	})
	// All three start at once: they race to migrate and to make the
	// first keys.
	inst := make([]*instance, n)
	for i := range inst {
		inst[i] = d.launch(t, fmt.Sprintf("idp%d", i))
	}
	for _, in := range inst {
		in.waitReady(t)
	}
	began := time.Now()

	watch := &jwksWatch{first: map[string][]time.Time{}, kids: map[string][]string{}}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() }) // before the processes stop
	var failMu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	for i, in := range inst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				etag, kids, err := in.jwks()
				if err != nil {
					fail("idp%d JWKS: %v", i, err)
				} else {
					watch.seen(i, n, etag, kids, time.Now())
				}
				select {
				case <-ctx.Done():
				case <-time.After(pollGap):
				}
			}
		}()
	}
	converge := pollUntil(t, "the three JWKS converge", pollGap, d.checkEvery+5*time.Second, func() bool {
		var etags []string
		for _, in := range inst {
			etag, _, err := in.jwks()
			must(t, err)
			etags = append(etags, etag)
		}
		return etags[0] != "" && etags[0] == etags[1] && etags[1] == etags[2]
	})

	// Round robin: log in on one instance, refresh on the next, verify
	// and read the user on the third.
	var reqMu sync.Mutex
	requests := map[string]int{}
	count := func(what string, n int) {
		reqMu.Lock()
		requests[what] += n
		reqMu.Unlock()
	}
	kidsSeen := map[string]bool{}
	for u := range n {
		email, password := newUser(t, inst[u].api, fmt.Sprintf("cluster%d", u))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pair tokenPair
			for r := 0; ctx.Err() == nil; r++ {
				a, b, c := inst[(u+r)%n], inst[(u+r+1)%n], inst[(u+r+2)%n]
				var err error
				if r%10 == 0 {
					pair, err = a.login(email, password)
					count("login", 1)
				} else {
					pair, err = a.refresh(pair.Refresh)
					count("refresh", 1)
				}
				if err != nil {
					fail("round %d: login/refresh on %s: %v", r, a.name, err)
					r = -1
					continue
				}
				if pair, err = b.refresh(pair.Refresh); err != nil {
					fail("round %d: refresh on %s: %v", r, b.name, err)
					r = -1
					continue
				}
				count("refresh", 1)
				reqMu.Lock()
				kidsSeen[kidOf(pair.Access)] = true
				reqMu.Unlock()
				if st, err := c.verify(pair.Access); err != nil || st != 200 {
					fail("round %d: verify on %s of a token of %s: %d %v", r, c.name, kidOf(pair.Access), st, err)
				}
				count("verify", 1)
				if st, _, body, err := c.get("/api/logged-user/", pair.Access); err != nil || st != 200 {
					fail("round %d: logged-user on %s: %d %v %s", r, c.name, st, err, body)
				}
				count("logged-user", 1)
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
	}

	// A rotation by the operator, seen by every instance within
	// keys.check_interval: measured from the command's return.
	probe := make([]tokenPair, n)
	for i, in := range inst {
		email, password := newUser(t, in.api, "probe")
		var err error
		probe[i], err = in.login(email, password)
		must(t, err)
	}
	out := d.mustCLI(t, "keys", "rotate", "--force", "--alg", "RS256")
	cliDone := time.Now()
	retired, generated := cliEvent(out, "key.retired"), cliEvent(out, "key.generated")
	if retired == "" || generated == "" {
		t.Fatalf("idp keys rotate printed %q", out)
	}
	var cliProp time.Duration
	for i, in := range inst {
		pollUntil(t, in.name+" serves the new next key", pollGap, d.checkEvery+5*time.Second, func() bool {
			_, ok := watch.servedBy(i, generated)
			return ok
		})
		at, _ := watch.servedBy(i, generated)
		cliProp = max(cliProp, at.Sub(cliDone))
		// And signs with the key the CLI activated (or a later one).
		pollUntil(t, in.name+" signs with the new key", pollGap, d.checkEvery+5*time.Second, func() bool {
			var err error
			probe[i], err = in.refresh(probe[i].Refresh)
			must(t, err)
			return kidOf(probe[i].Access) != retired
		})
	}

	// Concurrent refreshes of one token, spread over the instances.
	email, password := newUser(t, inst[0].api, "storm")
	pair, err := inst[0].login(email, password)
	must(t, err)
	for s := range storms {
		start := make(chan struct{})
		answers := make([]tokenPair, storm)
		errs := make([]error, storm)
		var sw sync.WaitGroup
		for i := range storm {
			sw.Add(1)
			go func() {
				defer sw.Done()
				<-start
				answers[i], errs[i] = inst[i%n].refresh(pair.Refresh)
			}()
		}
		close(start)
		sw.Wait()
		successors := map[string]bool{}
		for i, e := range errs {
			if e != nil {
				t.Errorf("storm %d: refresh %d on idp%d: %v", s, i, i%n, e)
				continue
			}
			successors[claimsOf(t, answers[i].Refresh)["jti"].(string)] = true
			pair = answers[i]
		}
		if len(successors) != 1 {
			t.Errorf("storm %d: %d concurrent refreshes of one token gave %d distinct successors, want 1", s, storm, len(successors))
		}
		count("refresh (storm)", storm)
	}
	st, _, body, err := inst[2].get("/api/sessions/", pair.Access)
	must(t, err)
	var sessions []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &sessions); st != 200 || err != nil {
		t.Fatalf("sessions/: %d %s %v", st, body, err)
	}
	if len(sessions) != 1 || sessions[0].ID != claimsOf(t, pair.Refresh)["fid"] {
		t.Errorf("after %d storms of %d refreshes the user has sessions %+v, want its one session", storms, storm, sessions)
	}
	if _, err := inst[1].refresh(pair.Refresh); err != nil {
		t.Errorf("the session's current refresh token after the storms: %v", err)
	}

	// Let scheduled rotations happen under the round-robin load.
	for time.Since(began) < minRun {
		time.Sleep(100 * time.Millisecond)
	}
	pollUntil(t, "JWKS converged at the end", pollGap, d.checkEvery+5*time.Second, func() bool {
		var etags []string
		for _, in := range inst {
			etag, _, err := in.jwks()
			must(t, err)
			etags = append(etags, etag)
		}
		return etags[0] == etags[1] && etags[1] == etags[2]
	})
	stop()
	wg.Wait()

	for _, f := range failures {
		t.Errorf("failure: %s", f)
	}
	// Exactly one instance made each change: the first keys of the rings
	// (all three started at once), every next key, every scheduled
	// activation.
	scheduled, made := map[string]int{}, map[string]int{}
	firstKeys := map[string]int{}
	for _, in := range inst {
		for _, e := range keyEvents(t, in.logs.String()) {
			switch e.Event {
			case "key.activated":
				scheduled[e.KID]++
			case "key.generated":
				made[e.KID]++
				if strings.HasPrefix(e.Detail, "first key") {
					firstKeys[e.Alg]++
				}
			}
		}
	}
	for kid, c := range scheduled {
		if c != 1 {
			t.Errorf("key %s activated %d times across the instances", kid, c)
		}
	}
	for kid, c := range made {
		if c != 1 {
			t.Errorf("key %s generated %d times across the instances", kid, c)
		}
	}
	if firstKeys["RS256"] != 1 || firstKeys["EdDSA"] != 1 {
		t.Errorf("first keys made by the instances starting at once: %v, want one per ring", firstKeys)
	}
	if len(scheduled) < 4 { // ≥ 2 per ring
		t.Errorf("%d scheduled activations across both rings, want at least 4", len(scheduled))
	}
	spreads := watch.spreads()
	worst := spreads[len(spreads)-1]
	if bound := d.checkEvery + slack; worst > bound || cliProp > bound {
		t.Errorf("propagation: worst spread %s, CLI rotation %s; want within keys.check_interval %s (+%s)", worst, cliProp, d.checkEvery, slack)
	}
	reqMu.Lock()
	defer reqMu.Unlock()
	t.Logf("cluster: %d instances, %s; JWKS converged %s after start; %d JWKS versions served by all three: "+
		"spread between first and last instance median %s, worst %s (keys.check_interval %s); CLI rotation served by all "+
		"%s after `idp keys rotate` returned; %d scheduled activations, each by exactly one instance; %d access keys "+
		"signed round-robin tokens; %d storms of %d concurrent refreshes: one successor each; requests %v, %d JWKS polls",
		n, time.Since(began).Round(time.Second), converge.Round(time.Millisecond), len(spreads),
		spreads[len(spreads)/2].Round(time.Millisecond), worst.Round(time.Millisecond), d.checkEvery,
		cliProp.Round(time.Millisecond), len(scheduled), len(kidsSeen), storms, storm, requests, watch.polls)
}

// cliEvent returns the kid of the first RS256 event of type typ in the
// output of an `idp keys` command ("TYPE ALG KID  DETAIL" lines).
func cliEvent(out, typ string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == typ && f[1] == "RS256" {
			return f[2]
		}
	}
	return ""
}

// keyEvent is a "signing key event" log line of idp (JSON logs).
type keyEvent struct {
	Msg    string `json:"msg"`
	Event  string `json:"event"`
	KID    string `json:"kid"`
	Alg    string `json:"alg"`
	Detail string `json:"detail"`
}

func keyEvents(t *testing.T, logs string) []keyEvent {
	t.Helper()
	var out []keyEvent
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e keyEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Msg == "signing key event" {
			out = append(out, e)
		}
	}
	return out
}
