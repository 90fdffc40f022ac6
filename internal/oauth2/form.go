package oauth2

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// multiValued are the parameters that may repeat (RFC 8707 §2: several
// resource parameters name several resources).
var multiValued = map[string]bool{"resource": true}

// form is a request's parameters: every one sent once (RFC 6749 §3.1),
// those without a value treated as omitted.
type form struct {
	one  map[string]string
	many map[string][]string
}

func (f form) get(name string) string { return f.one[name] }

func (f form) has(name string) bool { _, ok := f.one[name]; return ok }

// readForm reads a POST body of at most maxBytes as
// application/x-www-form-urlencoded; anything else is invalid_request.
func readForm(c echo.Context, maxBytes int64) (form, *Error) {
	req := c.Request()
	if req.Method != http.MethodPost {
		c.Response().Header().Set("Allow", http.MethodPost)
		return form{}, oauthError(http.StatusMethodNotAllowed, errInvalidRequest, "method %s not allowed: use POST", req.Method)
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return form{}, badRequest(errInvalidRequest, "the body must be application/x-www-form-urlencoded (RFC 6749 §3.2)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return form{}, oauthError(http.StatusRequestEntityTooLarge, errInvalidRequest, "the body is larger than %d bytes", maxBytes)
		}
		return form{}, badRequest(errInvalidRequest, "the body could not be read")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return form{}, badRequest(errInvalidRequest, "the body is not valid form encoding")
	}
	f := form{one: map[string]string{}, many: map[string][]string{}}
	for k, vs := range vals {
		nonEmpty := vs[:0:0]
		for _, v := range vs {
			if v != "" {
				nonEmpty = append(nonEmpty, v)
			}
		}
		switch {
		case len(nonEmpty) == 0:
			continue
		case multiValued[k]:
			f.many[k] = nonEmpty
		case len(vs) > 1:
			return form{}, badRequest(errInvalidRequest, "parameter %q is repeated (RFC 6749 §3.1)", k)
		default:
			f.one[k] = nonEmpty[0]
		}
	}
	return f, nil
}
