package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync/atomic"

	"github.com/labstack/echo/v4"
)

type requestIDKey struct{}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID takes a well-formed incoming X-Request-Id (from a proxy) or
// makes one, echoes it in the response and puts it in the request context
// so every log line of the request carries it (see LogHandler).
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(headerRequestID)
		if !wellFormedID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(headerRequestID, id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestIDKey{}, id)))
		return next(c)
	}
}

// Request ids need to be unique, not secret: a random per-process prefix
// and a counter (24 hex digits, as before), without a getrandom call per
// request.
var (
	requestIDPrefix = func() [6]byte {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return b
	}()
	requestIDCounter atomic.Uint64
)

// newRequestID is the next request id: the process prefix and the
// counter's low 48 bits, in hex.
func newRequestID() string {
	var b [12]byte
	copy(b[:6], requestIDPrefix[:])
	n := requestIDCounter.Add(1)
	for i := 11; i >= 6; i-- {
		b[i] = byte(n)
		n >>= 8
	}
	return hex.EncodeToString(b[:])
}

func wellFormedID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// LogHandler wraps h so that records logged with a request's context carry
// its request_id.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
