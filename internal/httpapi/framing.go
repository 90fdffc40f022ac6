package httpapi

import "github.com/labstack/echo/v4"

// closeChunked answers a request with a chunked body with "Connection:
// close" (RFC 9112 §6.3).
//
// A request carrying both Content-Length and Transfer-Encoding is the
// classic request-smuggling vector: a front proxy that frames by one and a
// server that frames by the other disagree on where the next request
// starts. Go's net/http frames by Transfer-Encoding and removes
// Content-Length before a handler runs, so idp cannot tell the ambiguous
// case from a plain chunked request; a connection-level parser of our own
// to see it is not worth its risk. Instead idp closes the connection after
// every chunked request — no client of this API needs chunked uploads
// (its bodies are a few hundred bytes), so the cost is nil — and so never
// reads a second request from bytes framed ambiguously. A front proxy
// must still normalise framing itself (nginx, HAProxy and Envoy refuse or
// rewrite such requests by default); see docs/security.md.
func closeChunked(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(c.Request().TransferEncoding) > 0 {
			c.Response().Header().Set("Connection", "close")
		}
		return next(c)
	}
}
