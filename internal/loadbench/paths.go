package loadbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// bench is one run's state.
type bench struct {
	o       Options
	base    string
	srv     *idpProc
	secret  string
	debug   string // debug listener address, "" without profiles
	client  *http.Client
	rs256   float64
	argon2  float64
	hashCPU float64 // CPU seconds per argon2id hash in the limit loop
	bare    float64
	results []Result
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// limits measures this machine's limits now, in the same run: the idp
// server is up but idle.
func (b *bench) limits(ctx context.Context, tmp string) error {
	var err error
	if b.rs256, err = limitRS256(ctx, 3*time.Second); err != nil {
		return err
	}
	b.argon2, b.hashCPU = limitArgon2(3 * time.Second)
	var jwks []byte
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/.well-known/jwks.json", nil)
	if st := do(b.client, req, &jwks); st != http.StatusOK {
		return fmt.Errorf("jwks: %d", st)
	}
	file := filepath.Join(tmp, "jwks.json")
	if err := os.WriteFile(file, jwks, 0o600); err != nil {
		return err
	}
	bare, err := startBare(ctx, file)
	if err != nil {
		return err
	}
	defer bare.Stop()
	ops, err := prepare(b.o.Clients, func(int) (op, error) { return b.get(bare.URL, ""), nil })
	if err != nil {
		return err
	}
	var r Result
	r.CPUSeconds, r.PeakRSSKiB = measure(bare.Pid(), func() { r = run(ctx, "bare net/http JWKS (limit)", ops, b.o.Duration) })
	b.bare = r.Rate()
	b.results = append(b.results, r)
	return nil
}

// profiled runs fn while taking a CPU profile of idp into
// ProfileDir/name.pprof (when profiles were asked for).
func (b *bench) profiled(name string, fn func()) {
	if b.debug == "" {
		fn()
		return
	}
	secs := max(1, int(b.o.Duration.Seconds())-1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
		resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.debug, secs))
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(b.o.ProfileDir, strings.ReplaceAll(name, " ", "_")+".pprof"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer f.Close()
		io.Copy(f, resp.Body)
	}()
	fn()
	<-done
}

// measure runs fn and returns process pid's CPU seconds during it and its
// peak RSS (KiB) during it.
func measure(pid int, fn func()) (cpu float64, peakKiB int64) {
	cpu, _, peakKiB = measureSys(pid, fn)
	return cpu, peakKiB
}

// measureSys is measure that also returns the system (kernel) part of
// the CPU seconds.
func measureSys(pid int, fn func()) (cpu, sys float64, peakKiB int64) {
	resetPeakRSS(pid)
	u0, s0, _ := cpuTimes(pid)
	fn()
	u1, s1, _ := cpuTimes(pid)
	peakKiB, _ = memKiB(pid, "VmHWM")
	return u1 - u0 + s1 - s0, s1 - s0, peakKiB
}

// prepare builds one op per client (logging in first where a path needs
// tokens: before the measured window).
func prepare(clients int, newOp func(i int) (op, error)) ([]op, error) {
	ops := make([]op, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range ops {
		wg.Add(1)
		go func() { defer wg.Done(); ops[i], errs[i] = newOp(i) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
	}
	return ops, nil
}

func (b *bench) get(url, bearer string) op {
	return func(ctx context.Context) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return do(b.client, req, nil)
	}
}

func (b *bench) post(ctx context.Context, path, body string, out *[]byte) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return do(b.client, req, out)
}

type pair struct{ Access, Refresh string }

// login logs seeded user u in.
func (b *bench) login(ctx context.Context, u int) (pair, int) {
	var body []byte
	st := b.post(ctx, "/api/token/", fmt.Sprintf(`{"email":%q,"password":%q}`, userEmail(u), password), &body)
	var p pair
	if st == http.StatusOK {
		if err := json.Unmarshal(body, &p); err != nil {
			return p, 0
		}
	}
	return p, st
}

// loginRetry logs in for a path's set-up, waiting out 503s.
func (b *bench) loginRetry(ctx context.Context, u int) (pair, error) {
	for range 50 {
		p, st := b.login(ctx, u)
		if st == http.StatusOK {
			return p, nil
		}
		if st != http.StatusServiceUnavailable {
			return p, fmt.Errorf("login: %d", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return pair{}, fmt.Errorf("login: 503 50 times")
}

// user picks client i's seeded user.
func (b *bench) user(i int) int { return i%b.o.Users + 1 }

func (b *bench) refreshOp(ctx context.Context, i int) (op, error) {
	p, err := b.loginRetry(ctx, b.user(i))
	if err != nil {
		return nil, err
	}
	tok := p.Refresh
	return func(ctx context.Context) int {
		var body []byte
		st := b.post(ctx, "/api/token/refresh/", `{"refresh":"`+tok+`"}`, &body)
		if st == http.StatusOK {
			var q pair
			if json.Unmarshal(body, &q) != nil || q.Refresh == "" {
				return 0
			}
			tok = q.Refresh
		}
		return st
	}, nil
}

func (b *bench) verifyOp(ctx context.Context, i int) (op, error) {
	p, err := b.loginRetry(ctx, b.user(i))
	if err != nil {
		return nil, err
	}
	body := `{"token":"` + p.Access + `"}`
	return func(ctx context.Context) int { return b.post(ctx, "/api/token/verify/", body, nil) }, nil
}

func (b *bench) loginOp(int) (op, error) {
	return func(ctx context.Context) int {
		_, st := b.login(ctx, rand.IntN(b.o.Users)+1)
		return st
	}, nil
}

func (b *bench) clientCredentialsOp(int) (op, error) {
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	return func(ctx context.Context) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/oauth2/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("loadbench", b.secret)
		return do(b.client, req, nil)
	}, nil
}

// path drives one path and returns its rows.
func (b *bench) path(ctx context.Context, name string) ([]Result, error) {
	c, d := b.o.Clients, b.o.Duration
	one := func(label string, clients int, newOp func(int) (op, error), limit string, target float64, note string) ([]Result, error) {
		ops, err := prepare(clients, newOp)
		if err != nil {
			return nil, err
		}
		var r Result
		cpu, sys, peak := measureSys(b.srv.pid(), func() { b.profiled(name, func() { r = run(ctx, label, ops, d) }) })
		r.CPUSeconds, r.SysSeconds, r.PeakRSSKiB = cpu, sys, peak
		b.setLimit(&r, limit, target)
		r.Note = note
		return []Result{r}, nil
	}
	switch name {
	case "jwks":
		return one("jwks", c, func(int) (op, error) { return b.get(b.base+"/.well-known/jwks.json", ""), nil }, "bare", 0.95, "")
	case "verify":
		return one("verify", c, func(i int) (op, error) { return b.verifyOp(ctx, i) }, "bare", 0.43, "")
	case "logged-user":
		return one("logged-user", c, func(i int) (op, error) {
			p, err := b.loginRetry(ctx, b.user(i))
			if err != nil {
				return nil, err
			}
			return b.get(b.base+"/api/logged-user/", p.Access), nil
		}, "bare", 0.32, "")
	case "refresh":
		target := 1.3
		if strings.EqualFold(b.o.AccessAlgorithm, "ES256") {
			target = 3.5
		}
		return one("refresh chain", c, func(i int) (op, error) { return b.refreshOp(ctx, i) }, "rs256", target, "p99 target < 40 ms")
	case "client_credentials":
		return one("client_credentials", c, b.clientCredentialsOp, "rs256", 0, "")
	case "login":
		return one("login", c, b.loginOp, "argon2", 0.73, "")
	case "login64":
		// 64 distinct users at once: the burst, then the sustained flood.
		return one("login, 64 clients", 64, func(i int) (op, error) {
			u := b.user(i + 1000)
			return func(ctx context.Context) int { _, st := b.login(ctx, u); return st }, nil
		}, "argon2", 0, "target: no 429/503, p99 < 2.5 s")
	case "mixed":
		return b.mixed(ctx)
	}
	return nil, fmt.Errorf("unknown path")
}

// mixed: 32 clients flood logins while 4 clients refresh and 4 verify.
func (b *bench) mixed(ctx context.Context) ([]Result, error) {
	logins, err := prepare(32, b.loginOp)
	if err != nil {
		return nil, err
	}
	refresh, err := prepare(4, func(i int) (op, error) { return b.refreshOp(ctx, i+100) })
	if err != nil {
		return nil, err
	}
	verify, err := prepare(4, func(i int) (op, error) { return b.verifyOp(ctx, i+200) })
	if err != nil {
		return nil, err
	}
	rs := make([]Result, 3)
	cpu, peak := measure(b.srv.pid(), func() {
		b.profiled("mixed", func() {
			var wg sync.WaitGroup
			for i, g := range []struct {
				name string
				ops  []op
			}{{"mixed: login", logins}, {"mixed: refresh", refresh}, {"mixed: verify", verify}} {
				wg.Add(1)
				go func() { defer wg.Done(); rs[i] = run(ctx, g.name, g.ops, b.o.Duration) }()
			}
			wg.Wait()
		})
	})
	rs[0].CPUSeconds, rs[0].PeakRSSKiB = cpu, peak
	rs[0].CPURequests = rs[0].Requests + rs[1].Requests + rs[2].Requests
	rs[0].Note = "CPU per 1k requests of the whole mix"
	rs[1].Note, rs[2].Note = "p99 target < 50 ms", "p99 target < 50 ms"
	return rs, nil
}

func (b *bench) setLimit(r *Result, limit string, target float64) {
	r.Limit, r.TargetRatio = limit, target
	switch limit {
	case "rs256":
		r.LimitRate = b.rs256
	case "argon2":
		r.LimitRate = b.argon2
	case "bare":
		r.LimitRate = b.bare
	}
}

// print writes the table.
func (b *bench) print() {
	w := b.o.Out
	fmt.Fprintf(w, "\nlimits measured in this run: RS256-2048 sign, 1 core (GOMAXPROCS=1): %.0f/s; argon2id default params, every core: %.1f/s; bare net/http JWKS at c=%d: %.0f/s\n",
		b.rs256, b.argon2, b.o.Clients, b.bare)
	fmt.Fprintf(w, "argon2id CPU per hash in that loop: %.1f ms; for login rows, \"hashes/login\" is the server's CPU per successful login in those units\n\n", b.hashCPU*1000)
	fmt.Fprintf(w, "%-28s %4s %9s %9s %9s %9s %19s %22s %10s %9s  %s\n",
		"path", "c", "req/s", "p50", "p95", "p99", "CPU s/1k", "errors", "peak RSS", "× limit", "target")
	for _, r := range b.results {
		cpu := "-"
		n := r.Requests
		if r.CPURequests > 0 {
			n = r.CPURequests
		}
		if n > 0 && r.CPUSeconds > 0 {
			cpu = fmt.Sprintf("%.3f", r.CPUSeconds*1000/float64(n))
			if r.SysSeconds > 0 {
				cpu += fmt.Sprintf(" (%.0f%% sys)", 100*r.SysSeconds/r.CPUSeconds)
			}
		}
		rss := "-"
		if r.PeakRSSKiB > 0 {
			rss = fmt.Sprintf("%.1f MiB", float64(r.PeakRSSKiB)/1024)
		}
		ratio, target := "-", ""
		if r.LimitRate > 0 {
			x := r.Rate() / r.LimitRate
			ratio = fmt.Sprintf("%.2f %s", x, r.Limit)
			if r.TargetRatio > 0 {
				verdict := "ok"
				if x < r.TargetRatio {
					verdict = "MISS"
				}
				target = fmt.Sprintf("≥ %.2f × %s", r.TargetRatio, verdict)
			}
		}
		if ok := r.Status["200"]; r.Limit == "argon2" && b.hashCPU > 0 && ok > 0 {
			target = strings.TrimSpace(target + fmt.Sprintf("  %.2f hashes/login", r.CPUSeconds/float64(ok)/b.hashCPU))
		}
		if r.Note != "" {
			target = strings.TrimSpace(target + "  " + r.Note)
		}
		fmt.Fprintf(w, "%-28s %4d %9.0f %9s %9s %9s %19s %22s %10s %9s  %s\n",
			r.Name, r.Clients, r.Rate(), ms(r.Pct(50)), ms(r.Pct(95)), ms(r.Pct(99)), cpu, r.Errors(), rss, ratio, target)
	}
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}
