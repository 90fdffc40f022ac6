package metrics

import (
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	keyAgeDesc = prometheus.NewDesc("idp_signing_key_age_seconds",
		"Seconds since the active signing key of a use started signing.", []string{"use", "alg"}, nil)
	keyNextDesc = prometheus.NewDesc("idp_signing_key_next_rotation_seconds",
		"Seconds until the next scheduled rotation of a use's signing key (negative: overdue).", []string{"use", "alg"}, nil)
)

// keyCollector reads the key schedule at scrape time.
type keyCollector struct {
	keys KeyClock
	uses map[string]string
	now  func() time.Time
}

func (c *keyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keyAgeDesc
	ch <- keyNextDesc
}

func (c *keyCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	uses := make([]string, 0, len(c.uses))
	for u := range c.uses {
		uses = append(uses, u)
	}
	sort.Strings(uses)
	for _, use := range uses {
		alg := c.uses[use]
		since, next, ok := c.keys.KeyTimes(alg)
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, now.Sub(since).Seconds(), use, alg)
		if !next.IsZero() {
			ch <- prometheus.MustNewConstMetric(keyNextDesc, prometheus.GaugeValue, next.Sub(now).Seconds(), use, alg)
		}
	}
}

var (
	dbAcquired = prometheus.NewDesc("idp_db_pool_acquired_conns", "Database connections in use.", nil, nil)
	dbIdle     = prometheus.NewDesc("idp_db_pool_idle_conns", "Idle database connections.", nil, nil)
	dbTotal    = prometheus.NewDesc("idp_db_pool_total_conns", "Database connections open (in use, idle or being opened).", nil, nil)
	dbMax      = prometheus.NewDesc("idp_db_pool_max_conns", "Upper bound of the database pool (database.max_conns).", nil, nil)
	dbAcq      = prometheus.NewDesc("idp_db_pool_acquires_total", "Connections taken from the pool.", nil, nil)
	dbEmpty    = prometheus.NewDesc("idp_db_pool_empty_acquires_total", "Acquires that found no idle connection and waited or opened one.", nil, nil)
	dbCancel   = prometheus.NewDesc("idp_db_pool_canceled_acquires_total", "Acquires given up (context ended) before a connection came.", nil, nil)
	dbWait     = prometheus.NewDesc("idp_db_pool_acquire_wait_seconds_total", "Total time spent acquiring connections.", nil, nil)
)

// dbCollector reads the database pool at scrape time.
type dbCollector struct {
	stats func() (DBStats, bool)
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbAcquired, dbIdle, dbTotal, dbMax, dbAcq, dbEmpty, dbCancel, dbWait} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.stats()
	if !ok {
		return
	}
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(dbAcquired, float64(s.AcquiredConns))
	g(dbIdle, float64(s.IdleConns))
	g(dbTotal, float64(s.TotalConns))
	g(dbMax, float64(s.MaxConns))
	n(dbAcq, float64(s.Acquires))
	n(dbEmpty, float64(s.EmptyAcquires))
	n(dbCancel, float64(s.CanceledAcquires))
	n(dbWait, s.AcquireWait.Seconds())
}
