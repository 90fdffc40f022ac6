package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// RouteUnmatched labels requests that matched no route (404s of unknown
// paths), so that scanners cannot grow the label set.
const RouteUnmatched = "unmatched"

// HTTP is Echo middleware counting and timing every request by route
// template, method and status. Register it with e.Pre so that it wraps
// routing and every other middleware: it sees the status the client got,
// including errors rendered by the error handler and recovered panics.
func (m *Metrics) HTTP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil && !c.Response().Committed {
			// What Echo would do with the error right after us: render it
			// now, so that its status is the one counted.
			c.Error(err)
			err = nil
		}
		route := routeOf(c)
		method := methodLabel(c.Request().Method)
		m.httpDuration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		m.httpRequests.WithLabelValues(route, method, statusLabel(c.Response().Status)).Inc()
		return err
	}
}

// routeOf is the route template Echo matched, or RouteUnmatched.
func routeOf(c echo.Context) string {
	p := c.Path()
	if p == "" || p == "/*" {
		return RouteUnmatched
	}
	return p
}

// knownMethods are the methods labelled by name; any other is "other".
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

func methodLabel(m string) string {
	if l, ok := knownMethods[m]; ok {
		return l
	}
	return "other"
}

// statusLabels are the label values of every status code, made once.
var statusLabels = func() [600]string {
	var s [600]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code < 100 || code >= len(statusLabels) {
		return "other"
	}
	return statusLabels[code]
}
