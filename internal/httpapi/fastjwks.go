package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/signer"
)

const jwksPath = "/.well-known/jwks.json"

// jwksAnswer is the JWKS response for one signer document, rendered once:
// the body with its newline and every header value.
type jwksAnswer struct {
	etag    string
	body    []byte
	headers map[string][]string
}

// fastJWKS answers the plain GET and HEAD requests for the JWKS — what
// every resource server's key cache sends, the busiest request idp
// serves — before routing and the middleware chain, from bytes rendered
// once per key set: the same status, headers, body, request id and
// metrics as the routed handler (a.jwks), at about the cost of a bare
// net/http handler (issue 14); its access log is a tally (jwksTally).
// Anything unusual goes the normal way: another method or path, a request
// with a body or ambiguous framing (closeChunked), or a CORS request
// (Origin: the CORS middleware answers).
//
// Echo builds its Pre chain for every request, so the rendered answer
// lives in the api (a.jwksAnswer), not in this closure.
func (a *api) fastJWKS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.URL.Path != jwksPath || r.Method != http.MethodGet && r.Method != http.MethodHead ||
			r.ContentLength != 0 || len(r.TransferEncoding) != 0 || r.Header["Origin"] != nil {
			return next(c)
		}
		start := time.Now()
		ans := a.jwksAnswer.Load()
		if doc := a.keys.JWKS(); ans == nil || ans.etag != doc.ETag {
			ans = a.renderJWKS(doc)
			a.jwksAnswer.Store(ans)
		}
		c.SetPath(jwksPath) // for the metrics' route label
		id := r.Header.Get(headerRequestID)
		if !wellFormedID(id) {
			id = newRequestID()
		}
		w := c.Response()
		h := w.Header()
		for k, v := range ans.headers {
			h[k] = v
		}
		h[headerRequestID] = []string{id}
		status := http.StatusOK
		if etagMatches(r.Header.Get("If-None-Match"), ans.etag) {
			status = http.StatusNotModified
			w.WriteHeader(status)
		} else {
			h["Content-Type"] = []string{mimeJSON}
			h["Content-Length"] = []string{strconv.Itoa(len(ans.body))}
			w.WriteHeader(status)
			if r.Method == http.MethodGet {
				_, _ = w.Write(ans.body)
			}
		}
		ctx := r.Context()
		if a.log.Enabled(ctx, slog.LevelDebug) {
			a.log.LogAttrs(ctx, slog.LevelDebug, "request",
				slog.String("method", r.Method),
				slog.String("path", jwksPath),
				slog.Int("status", status),
				slog.Duration("latency", time.Since(start)),
				slog.String("ip", c.RealIP()),
				slog.String("request_id", id),
			)
		}
		a.jwksServed.count(a.log, status, start)
		return nil
	}
}

// jwksTally sums the fast path's answers into one log line a minute at
// most: a verifier fleet or a flood fetching the JWKS tens of thousands
// of times a second would otherwise write as many access-log lines (each
// fetch is logged one by one at log.level debug).
type jwksTally struct {
	ok, notModified atomic.Int64
	since           atomic.Int64 // unix nanoseconds of the last line
}

const jwksTallyEvery = time.Minute

func (t *jwksTally) count(log *slog.Logger, status int, now time.Time) {
	if status == http.StatusOK {
		t.ok.Add(1)
	} else {
		t.notModified.Add(1)
	}
	last := t.since.Load()
	if last == 0 {
		t.since.CompareAndSwap(0, now.UnixNano())
		return
	}
	if now.UnixNano()-last < int64(jwksTallyEvery) || !t.since.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	log.Info("jwks requests",
		slog.String("path", jwksPath),
		slog.Int64("ok", t.ok.Swap(0)),
		slog.Int64("not_modified", t.notModified.Swap(0)),
		slog.Duration("over", time.Duration(now.UnixNano()-last)))
}

// renderJWKS renders the answer to doc. The header slices are shared by
// every response and never appended to (each is set whole).
func (a *api) renderJWKS(doc signer.JWKS) *jwksAnswer {
	return &jwksAnswer{
		etag: doc.ETag,
		body: append(doc.Body[:len(doc.Body):len(doc.Body)], '\n'),
		headers: map[string][]string{
			"X-Content-Type-Options": {"nosniff"},
			"X-Frame-Options":        {"DENY"},
			"Referrer-Policy":        {"same-origin"},
			"Cache-Control":          {"public, max-age=" + a.jwksMaxAge + ", must-revalidate"},
			"Etag":                   {doc.ETag},
		},
	}
}
