package loadbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxSamples bounds the latencies kept per worker (a sorted sample, not
// a histogram: no HDR histogram module is available here). At 20,000
// requests/s over 16 workers a 30 s run keeps every latency.
const maxSamples = 1 << 16

// Result is one measured path.
type Result struct {
	Name        string
	Clients     int
	Requests    int64
	Elapsed     time.Duration
	Latencies   []time.Duration // sorted
	Status      map[string]int64
	CPUSeconds  float64 // server CPU during the phase
	CPURequests int64   // requests CPUSeconds is spread over (0: Requests)
	SysSeconds  float64 // the kernel's part of CPUSeconds
	PeakRSSKiB  int64   // server VmHWM during the phase
	Limit       string  // "rs256", "argon2", "bare", or ""
	LimitRate   float64
	Target      string // e.g. "≥ 1.3 ×"
	TargetRatio float64
	Note        string
}

// Rate is successful requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Status["200"]) / r.Elapsed.Seconds()
}

// Pct is the p-th percentile latency (0 when nothing was measured).
func (r Result) Pct(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	i = max(0, min(i, len(r.Latencies)-1))
	return r.Latencies[i]
}

// Errors lists the answers that were not 200, by status ("net" for a
// transport error), e.g. "429:12 503:3".
func (r Result) Errors() string {
	var keys []string
	for k := range r.Status {
		if k != "200" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s%s:%d", map[bool]string{true: "", false: " "}[b.Len() == 0], k, r.Status[k])
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// op is one request of a worker: it returns the HTTP status (0 for a
// transport error). Each worker owns its state (tokens), so op needs no lock.
type op func(ctx context.Context) int

// run calls each op in a loop in its own goroutine for d (or until ctx
// ends), and measures every call.
func run(ctx context.Context, name string, ops []op, d time.Duration) Result {
	type local struct {
		lat    []time.Duration
		status map[int]int64
		n      int64
	}
	locals := make([]local, len(ops))
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &locals[i]
			l.status = map[int]int64{}
			l.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				st := ops[i](ctx)
				if ctx.Err() != nil && st == 0 {
					break // cut off by the end of the phase, not a failure
				}
				el := time.Since(t0)
				l.n++
				l.status[st]++
				if len(l.lat) < maxSamples {
					l.lat = append(l.lat, el)
				}
			}
		}()
	}
	wg.Wait()
	res := Result{Name: name, Clients: len(ops), Elapsed: time.Since(start), Status: map[string]int64{}}
	for _, l := range locals {
		res.Requests += l.n
		res.Latencies = append(res.Latencies, l.lat...)
		for st, n := range l.status {
			k := fmt.Sprint(st)
			if st == 0 {
				k = "net"
			}
			res.Status[k] += n
		}
	}
	slices.Sort(res.Latencies)
	return res
}

// do sends req and drains the answer, returning its status and, if out is
// non-nil, its body.
func do(c *http.Client, req *http.Request, out *[]byte) int {
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0
		}
		*out = b
	} else if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0
	}
	return resp.StatusCode
}
