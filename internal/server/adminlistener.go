package server

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/labstack/echo/v4"
)

// The optional admin listener (admin.addr), as Hydra's admin port: the
// admin API and console move to a listener of their own — typically one
// only the operators' network reaches — and the public listener stops
// serving them. One Echo serves both listeners (one middleware stack,
// one error shape, one set of metrics); what tells them apart is a value
// the admin listener's http.Server puts in every connection's base
// context, read by separateListeners before routing.

// listenerKey marks the contexts of requests that came in on the admin
// listener.
type listenerKey struct{}

// adminContext is the base context of the admin listener's connections.
func adminContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, listenerKey{}, true)
}

func onAdminListener(ctx context.Context) bool {
	v, _ := ctx.Value(listenerKey{}).(bool)
	return v
}

// isAdminPath reports whether path is the admin surface's: /admin or
// below it (not /administrator).
func isAdminPath(path string) bool {
	return path == "/admin" || strings.HasPrefix(path, "/admin/")
}

// servedOnAdminListener is what the admin listener answers: the admin
// surface and the health probes (so a load balancer can check the port).
func servedOnAdminListener(path string) bool {
	return isAdminPath(path) || path == "/healthz" || path == "/readyz"
}

// separateListeners answers 404, in the public API's error shape, to an
// admin path on the public listener and to anything else on the admin
// one. It runs before routing and before the JWKS fast path, on the
// decoded path: every route pattern is a literal prefix, so a request
// Echo would route to an admin route (Echo matches the raw, still
// escaped path) always has a decoded path under /admin, and the other
// way round — an escaped /%61dmin is refused on the public listener too.
// Installed only when admin.addr is set.
func separateListeners(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if onAdminListener(r.Context()) {
			if !servedOnAdminListener(r.URL.Path) {
				return echo.ErrNotFound
			}
		} else if isAdminPath(r.URL.Path) {
			return echo.ErrNotFound
		}
		return next(c)
	}
}

// listenAdmin opens the admin listener: the injected one, else one on
// admin.addr; nil when admin.addr is empty.
func (s *Server) listenAdmin() (net.Listener, error) {
	if s.cfg.Admin.Addr == "" {
		return nil, nil
	}
	if s.adminLn != nil {
		return s.adminLn, nil
	}
	ln, err := net.Listen("tcp", s.cfg.Admin.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener on %s: %w", s.cfg.Admin.Addr, err)
	}
	return ln, nil
}
