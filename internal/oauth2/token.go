package oauth2

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
)

// grantHandler serves one grant type for an authenticated client that is
// allowed it.
type grantHandler func(c echo.Context, client storage.Client, f form) *Error

// tokenResponse is RFC 6749 §5.1's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// POST /oauth2/token: read the form, authenticate the client, dispatch on
// grant_type.
func (s *surface) token(c echo.Context) *Error {
	f, e := readForm(c, s.maxBody)
	if e != nil {
		return e
	}
	client, e := s.authenticate(c, f)
	if e != nil {
		return e
	}
	gt := f.get("grant_type")
	if gt == "" {
		return badRequest(errInvalidRequest, "grant_type is required")
	}
	h, known := s.grants[gt]
	if !known {
		return badRequest(errUnsupportedGrantType, "grant_type %q is not supported", gt)
	}
	if !clients.Allows(client, gt) {
		return badRequest(errUnauthorizedClient, "this client may not use the %s grant", gt)
	}
	return h(c, client, f)
}

// issued writes the tokens of a grant.
func issued(c echo.Context, g tokens.GrantTokens) *Error { return issuedWithID(c, g, "") }

// issuedWithID writes the tokens of a grant and an ID token ("": none).
func issuedWithID(c echo.Context, g tokens.GrantTokens, idToken string) *Error {
	return ok(c, tokenResponse{
		IDToken:      idToken,
		AccessToken:  g.Access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(g.ExpiresIn.Seconds()),
		RefreshToken: g.Refresh,
		Scope:        strings.Join(g.Scope, " "),
	})
}

// requestedScopes splits the scope parameter (RFC 6749 §3.3: scope-tokens
// separated by single spaces); absent: nil.
func requestedScopes(f form) ([]string, *Error) {
	raw, present := f.one["scope"]
	if !present {
		return nil, nil
	}
	parts := strings.Split(raw, " ")
	for _, p := range parts {
		if !clients.ValidScopeToken(p) {
			return nil, badRequest(errInvalidScope, "scope %q is not a list of scope tokens separated by single spaces", raw)
		}
	}
	return parts, nil
}

// grantFor decides scope and audience for client: the scopes asked for
// must all be allowed (invalid_scope), the resources all among its
// audiences (invalid_target).
func (s *surface) grantFor(client storage.Client, f form, withUser bool) (tokens.Grant, *Error) {
	requested, e := requestedScopes(f)
	if e != nil {
		return tokens.Grant{}, e
	}
	scopes, err := s.clients.Scopes(client, requested, withUser, nil)
	if err != nil {
		return tokens.Grant{}, scopeError(err)
	}
	aud, err := clients.Audience(client, f.many["resource"])
	if err != nil {
		var te *clients.TargetError
		if errors.As(err, &te) {
			return tokens.Grant{}, &Error{Status: http.StatusBadRequest, Code: errInvalidTarget, Description: te.Error()}
		}
		return tokens.Grant{}, serverError(err)
	}
	return tokens.Grant{ClientID: client.ID, Scope: scopes, Audience: aud,
		AccessTTL: client.AccessTTL, RefreshTTL: client.RefreshTTL}, nil
}

func scopeError(err error) *Error {
	var se *clients.ScopeError
	if errors.As(err, &se) {
		return badRequest(errInvalidScope, "%s", se.Error())
	}
	return serverError(err)
}
