package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage/storagetest"
)

// TestSustainedLockoutAttack is issue 10's "what it must reach": an
// attacker sending 10 wrong passwords a second from 100 addresses for 10
// minutes (time moves with the injected clock, 100 ms per guess) against
// a live server cannot lock out an owner who logs in from a known client —
// one with a device cookie (here from ever-new IPs) or from the IP it
// logged in from before — while guessing stays within the configured
// rates. An owner on a brand-new client without a cookie is still
// subject to the account-wide block (that is the protection).
func TestSustainedLockoutAttack(t *testing.T) {
	e := newEnv(t, storagetest.SQLite(t), proxied)
	const victim = "victim@example.com"
	e.register("Victim", victim, password)

	login := func(ip, cookie string) response {
		b, _ := json.Marshal(map[string]string{"email": victim, "password": password})
		h := []string{"X-Forwarded-For: " + ip, "User-Agent: Owner/1"}
		if cookie != "" {
			h = append(h, "Cookie: idp_device="+cookie)
		}
		return e.post("/api/token/", string(b), h...)
	}
	deviceOf := func(r response) string {
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			if c.Name == "idp_device" {
				return c.Value
			}
		}
		return ""
	}
	const knownIP = "198.51.100.77"
	first := login(knownIP, "")
	cookie := deviceOf(first)
	if first.status != 200 || cookie == "" {
		t.Fatalf("first login: %d, cookie %q, headers %v", first.status, cookie, first.header)
	}
	if sc := first.header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Errorf("Set-Cookie %q", sc)
	}

	const (
		perSecond = 10
		addresses = 100
		duration  = 10 * time.Minute
		ownerEach = 30 * time.Second
	)
	step := time.Second / perSecond
	var checked, refused, other int // attacker answers: 401, 429, anything else
	var deviceRefused, knownRefused, freshRefused, ownerTries int
	start := e.clock.Now()
	for i := 0; e.clock.Now().Sub(start) < duration; i++ {
		ip := fmt.Sprintf("203.0.%d.%d", 113+i%addresses/250, 1+i%addresses)
		switch r := e.attempt(victim, fmt.Sprintf("guess-%d", i), ip); r.status {
		case 401:
			checked++
		case 429:
			refused++
		default:
			other++
		}
		e.clock.Advance(step)
		if i%int(ownerEach/step) == int(ownerEach/step)-1 {
			ownerTries++
			r := login(fmt.Sprintf("192.0.2.%d", 1+ownerTries), cookie)
			if r.status != 200 {
				deviceRefused++
			} else {
				cookie = deviceOf(r)
			}
			if r := login(knownIP, ""); r.status != 200 {
				knownRefused++
			}
			if r := login(fmt.Sprintf("192.0.3.%d", 1+ownerTries), ""); r.status != 200 {
				freshRefused++
			}
		}
	}
	t.Logf("attack: %d guesses in %s from %d addresses: %d password checks (%.1f/min), %d refused, %d other",
		checked+refused+other, duration, addresses, checked, float64(checked)/duration.Minutes(), refused, other)
	t.Logf("owner: %d logins each: device cookie refused %d, known IP refused %d, new client without cookie refused %d",
		ownerTries, deviceRefused, knownRefused, freshRefused)
	if deviceRefused != 0 || knownRefused != 0 {
		t.Errorf("owner from a known client refused: device %d, known IP %d of %d", deviceRefused, knownRefused, ownerTries)
	}
	if other != 0 {
		t.Errorf("%d attacker attempts answered neither 401 nor 429", other)
	}
	// Guessing stays within the configured rates: the account's limit per
	// window plus one guess per (doubling, at most MaxBlock) block, and
	// every pair's own limit.
	cfg := testConfig().Login
	windows := int(duration/cfg.Window) + 1
	if limit := windows * (int(cfg.MaxFailuresPerAccount) + int(cfg.Window/cfg.AccountBlock)); checked > limit {
		t.Errorf("%d password checks, want at most %d", checked, limit)
	}
	if freshRefused == 0 {
		t.Errorf("a new client without a cookie was never refused: the account-wide block does not hold")
	}
}
