package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Answers in idp's (SimpleJWT's) JSON shapes.
const (
	msgNotProvided  = "Authentication credentials were not provided."
	msgBadHeader    = "Authorization header must contain two space-delimited values"
	msgNotValid     = "Given token not valid for any token type"
	msgInvalid      = "Token is invalid or expired"
	msgWrongType    = "Token has wrong type"
	msgNoType       = "Token has no type"
	msgUnavailable  = "Service temporarily unavailable, try again later."
	wwwAuthenticate = `Bearer realm="api"`
	allowGet        = "GET, HEAD"
)

type detail struct {
	Detail string `json:"detail"`
	Code   string `json:"code,omitempty"`
}

type tokenNotValid struct {
	Detail   string         `json:"detail"`
	Code     string         `json:"code"`
	Messages []tokenMessage `json:"messages"`
}

type tokenMessage struct {
	TokenClass string `json:"token_class"`
	TokenType  string `json:"token_type"`
	Message    string `json:"message"`
}

// newHandler serves the resource server's endpoints:
//
//	GET /whoami    the verified claims: {"claims":{…}}
//	GET /resource  a protected sample resource
//	GET /healthz   alive
//	GET /readyz    200 once the JWKS is loaded, else 503
func newHandler(v *Verifier, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/whoami", protected(v, log, func(w http.ResponseWriter, claims map[string]any) {
		writeJSON(w, http.StatusOK, map[string]any{"claims": claims})
	}))
	mux.Handle("/resource", protected(v, log, func(w http.ResponseWriter, claims map[string]any) {
		who, _ := claims["email"].(string)
		if who == "" {
			who, _ = claims["sub"].(string)
		}
		writeJSON(w, http.StatusOK, map[string]any{"message": "hello " + who, "user_id": claims["user_id"]})
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if methodAllowed(w, r) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !methodAllowed(w, r) {
			return
		}
		select {
		case <-v.Ready():
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no keys yet"})
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, detail{Detail: "Not found."})
	})
	return mux
}

// protected authenticates the request, then (as DRF does, after
// authentication) checks the method, then calls serve with the claims.
func protected(v *Verifier, log *slog.Logger, serve func(http.ResponseWriter, map[string]any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		token, problem := bearerToken(r.Header.Get("Authorization"))
		if problem != nil {
			unauthorized(w, problem)
			return
		}
		claims, err := v.Verify(r.Context(), token)
		if err != nil {
			refuse(w, r, log, err)
			return
		}
		if methodAllowed(w, r) {
			serve(w, claims)
		}
	})
}

// bearerToken parses the Authorization header as idp (SimpleJWT) does: the
// value is split on ASCII whitespace runs; a missing header or a scheme
// other than exactly "Bearer" means no credentials; "Bearer" must be
// followed by exactly one value.
func bearerToken(header string) (token string, problem any) {
	parts := strings.FieldsFunc(header, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	})
	switch {
	case len(parts) == 0 || parts[0] != "Bearer":
		return "", detail{Detail: msgNotProvided}
	case len(parts) != 2:
		return "", detail{Detail: msgBadHeader, Code: "bad_authorization_header"}
	}
	return parts[1], nil
}

// refuse answers a token Verify refused and logs why (never the token).
func refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Reason: err}
	}
	log.Info("token refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
		"reason", e.Reason.Error(), "detail", e.Detail, "kid", e.KID)

	message := msgInvalid
	switch {
	case errors.Is(err, ErrNoKeys):
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, detail{Detail: msgUnavailable})
		return
	case errors.Is(err, ErrWrongType):
		message = msgWrongType
	case errors.Is(err, ErrNoType):
		message = msgNoType
	}
	unauthorized(w, tokenNotValid{Detail: msgNotValid, Code: "token_not_valid",
		Messages: []tokenMessage{{TokenClass: "AccessToken", TokenType: "access", Message: message}}})
}

func unauthorized(w http.ResponseWriter, body any) {
	w.Header().Set("WWW-Authenticate", wwwAuthenticate)
	writeJSON(w, http.StatusUnauthorized, body)
}

// methodAllowed answers 405 for anything but GET and HEAD.
func methodAllowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", allowGet)
	writeJSON(w, http.StatusMethodNotAllowed, detail{Detail: fmt.Sprintf("Method %q not allowed.", r.Method)})
	return false
}

// writeJSON writes compact JSON without a trailing newline or HTML
// escaping, as idp does.
func writeJSON(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	out := []byte(`{"detail":"A server error occurred."}`)
	if err := enc.Encode(body); err == nil {
		out = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	} else {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}
