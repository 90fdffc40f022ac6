package metrics

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Login outcomes (idp_logins_total{outcome}).
const (
	LoginSuccess        = "success"
	LoginBadCredentials = "bad_credentials"
	LoginThrottled      = "throttled"
	LoginBusy           = "busy"
	LoginError          = "error"
)

// Refresh outcomes (idp_refreshes_total{outcome}).
const (
	RefreshSuccess     = "success"
	RefreshInvalid     = "invalid"
	RefreshBlacklisted = "blacklisted"
	RefreshInactive    = "inactive"
	RefreshError       = "error"
)

// Grants (idp_tokens_issued_total{grant}).
const (
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// KeyClock reports the signing-key schedule of one algorithm's ring:
// since when its active key signs and when the next rotation is due.
// *signer.Signer is one (through server).
type KeyClock interface {
	KeyTimes(alg string) (activeSince, nextRotation time.Time, ok bool)
}

// DBStats is a database pool's state at one instant.
type DBStats struct {
	AcquiredConns, IdleConns, TotalConns, MaxConns int32
	Acquires, EmptyAcquires, CanceledAcquires      int64
	AcquireWait                                    time.Duration
}

// Options configure Metrics. Every field may be left zero.
type Options struct {
	// Version and Commit label idp_build_info; empty: from the binary's
	// build information.
	Version, Commit string
	// Uses maps each use ("access", "refresh") to the algorithm whose ring
	// signs it, for the signing-key gauges (see Attach).
	Uses map[string]string
	// AccessAlgs are the algorithms access tokens are signed with: their
	// idp_tokens_issued_total series exist from the start, at zero.
	AccessAlgs []string
	// DBStats reads the database pool; ok false: no pool (embedded store).
	DBStats func() (s DBStats, ok bool)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Metrics holds idp's collectors on a private registry. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg  *prometheus.Registry
	uses map[string]string
	now  func() time.Time

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	tokensIssued *prometheus.CounterVec
	refreshes    *prometheus.CounterVec
	reuse        prometheus.Counter
	revoked      *prometheus.CounterVec
	logins       *prometheus.CounterVec
	hashWait     prometheus.Histogram
}

// New registers every collector on a new registry.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:  reg,
		uses: opts.Uses,
		now:  opts.Now,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_http_requests_total",
			Help: "HTTP requests answered, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "idp_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_tokens_issued_total",
			Help: "Access tokens issued, by grant and signing algorithm.",
		}, []string{"grant", "alg"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_refreshes_total",
			Help: "Refresh-token uses, by outcome (success includes the grace-window answer).",
		}, []string{"outcome"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idp_refresh_reuse_detected_total",
			Help: "Rotated-out refresh tokens presented again; each revoked its family.",
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_families_revoked_total",
			Help: "Refresh-token families (login sessions) revoked, by reason.",
		}, []string{"reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_logins_total",
			Help: "Password logins, by outcome.",
		}, []string{"outcome"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "idp_password_hash_wait_seconds",
			Help:    "Time a password hash or verification waited for a hashing slot.",
			Buckets: []float64{.0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	reg.MustRegister(m.httpRequests, m.httpDuration, m.tokensIssued, m.refreshes, m.reuse, m.revoked, m.logins, m.hashWait)
	for _, o := range []string{LoginSuccess, LoginBadCredentials, LoginThrottled, LoginBusy, LoginError} {
		m.logins.WithLabelValues(o)
	}
	for _, alg := range opts.AccessAlgs {
		for _, g := range []string{GrantPassword, GrantRefreshToken} {
			m.tokensIssued.WithLabelValues(g, alg)
		}
	}
	for r := range revokeReasons {
		m.revoked.WithLabelValues(r)
	}
	for _, o := range []string{RefreshSuccess, RefreshInvalid, RefreshBlacklisted, RefreshInactive, RefreshError} {
		m.refreshes.WithLabelValues(o)
	}
	if opts.DBStats != nil {
		reg.MustRegister(&dbCollector{stats: opts.DBStats})
	}
	reg.MustRegister(buildInfo(opts.Version, opts.Commit))
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Attach registers the gauges read from services built after Metrics
// (which feeds their hooks): the signing-key schedule and the
// password-hash queue depth. Call it once.
func (m *Metrics) Attach(keys KeyClock, hashQueueDepth func() int) {
	if keys != nil && len(m.uses) > 0 {
		m.reg.MustRegister(&keyCollector{keys: keys, uses: m.uses, now: m.now})
	}
	if hashQueueDepth != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "idp_password_hash_queue_depth",
			Help: "Password hashes and verifications waiting for a hashing slot.",
		}, func() float64 { return float64(hashQueueDepth()) }))
	}
}

// Handler serves the exposition format of the private registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
}

// Registry is the private registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Login counts a password login by outcome (one of the Login* constants).
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Refresh counts a refresh-token use by outcome (one of the Refresh*
// constants).
func (m *Metrics) Refresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// TokenIssued counts an access token issued by grant, signed with alg.
func (m *Metrics) TokenIssued(grant, alg string) { m.tokensIssued.WithLabelValues(grant, alg).Inc() }

// HashWaited records how long a password hash waited for its slot.
func (m *Metrics) HashWaited(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

func buildInfo(version, commit string) prometheus.Collector {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && commit == "" {
				commit = s.Value
			}
		}
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "idp_build_info",
		Help: "Always 1; the labels say which idp build runs.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(orUnknown(version), orUnknown(commit), runtime.Version()).Set(1)
	return g
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
