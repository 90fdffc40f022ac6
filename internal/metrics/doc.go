// Package metrics is idp's Prometheus instrumentation: a private registry
// (nothing registers on the global default one), the route-labelled HTTP
// middleware, the counters fed by the core's outcomes and audit events, and
// the collectors that read signing-key, password-hashing and database-pool
// state at scrape time. It serves the exposition on its own handler, which
// internal/server mounts on a separate listener (metrics.addr).
//
// Labels never carry user data: routes are Echo's route templates
// ("/api/sessions/:id"), methods and statuses come from fixed sets, and
// every other label is one of a few constants. Cardinality is bounded.
//
// metrics is imported only by internal/server. It imports storage (audit
// records) and echo, never a surface, a backend or config; the core does
// not import it — server adapts the core to the small interfaces here.
package metrics
