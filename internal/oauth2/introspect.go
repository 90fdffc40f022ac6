package oauth2

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

// introspection is RFC 7662 §2.2's answer; an inactive token is
// {"active":false} and nothing else.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	Email     string `json:"email,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       any    `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
	UserID    *int64 `json:"user_id,omitempty"`
}

// POST /oauth2/introspect (RFC 7662): for confidential clients (resource
// servers). Anything but a live token is inactive.
func (s *surface) introspect(c echo.Context) *Error {
	f, e := readForm(c, s.maxBody)
	if e != nil {
		return e
	}
	client, e := s.authenticate(c, f)
	if e != nil {
		return e
	}
	if client.Type != storage.ClientConfidential {
		return oauthError(http.StatusUnauthorized, errInvalidClient, "introspection needs a confidential client")
	}
	tok := f.get("token")
	if tok == "" {
		return badRequest(errInvalidRequest, "token is required")
	}
	in, err := s.tokens.Introspect(c.Request().Context(), tok)
	if err != nil {
		return serverError(err)
	}
	if !in.Active {
		return ok(c, introspection{Active: false})
	}
	out := introspection{
		Active: true, Scope: strings.Join(in.Scope, " "), ClientID: in.ClientID,
		Username: in.Email, Email: in.Email, Exp: in.ExpiresAt.Unix(), Iat: in.IssuedAt.Unix(),
		Sub: in.Subject, Iss: in.Issuer, Jti: in.JTI, TokenType: "Bearer",
	}
	if in.TokenType == "refresh" {
		out.TokenType = "refresh_token"
	}
	if in.UserID != 0 {
		id := in.UserID
		out.UserID = &id
		if out.Sub == "" {
			out.Sub = strconv.FormatInt(id, 10)
		}
	}
	switch len(in.Audience) {
	case 0:
	case 1:
		out.Aud = in.Audience[0]
	default:
		out.Aud = in.Audience
	}
	return ok(c, out)
}
