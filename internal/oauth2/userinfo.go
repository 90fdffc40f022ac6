package oauth2

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/clients"
)

// GET/POST /oauth2/userinfo (OIDC Core §5.3): the claims of the access
// token's user, by scope. The token comes as a Bearer header or, on a
// POST, as the form's access_token (RFC 6750 §2.1, §2.2); errors carry
// RFC 6750 §3's WWW-Authenticate.
func (s *surface) userinfo(c echo.Context) error {
	noStore(c)
	req := c.Request()
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		c.Response().Header().Set("Allow", "GET, POST")
		return bearerError(c, http.StatusMethodNotAllowed, "invalid_request", "use GET or POST")
	}
	token, status, code, desc := bearerToken(c, s.maxBody)
	if status != 0 {
		return bearerError(c, status, code, desc)
	}
	ctx := req.Context()
	in, err := s.tokens.Introspect(ctx, token)
	if err != nil {
		s.log.ErrorContext(ctx, "userinfo failed", "err", err)
		return c.JSON(http.StatusInternalServerError, errorBody{Error: errServerError, Description: "the server could not complete the request"})
	}
	if !in.Active || in.TokenType != "access" || in.UserID == 0 {
		return bearerError(c, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
	}
	if !slices.Contains(in.Scope, clients.ScopeOpenID) {
		return bearerError(c, http.StatusForbidden, "insufficient_scope", "the access token lacks the openid scope")
	}
	u, err := s.oidc.Accounts.Get(ctx, in.UserID)
	if err != nil || !u.IsActive {
		return bearerError(c, http.StatusUnauthorized, "invalid_token", "the token's account is inactive or gone")
	}
	out := map[string]any{"sub": strconv.FormatInt(u.ID, 10)}
	if slices.Contains(in.Scope, clients.ScopeEmail) {
		out["email"], out["email_verified"] = u.Email, false
	}
	if slices.Contains(in.Scope, clients.ScopeProfile) && u.Name != "" {
		out["name"] = u.Name
	}
	return c.JSON(http.StatusOK, out)
}

// bearerToken finds the one access token of the request.
func bearerToken(c echo.Context, maxBody int64) (token string, status int, code, desc string) {
	req := c.Request()
	var found []string
	if h := req.Header.Values("Authorization"); len(h) > 0 {
		scheme, v, _ := strings.Cut(h[0], " ")
		if len(h) > 1 || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(v) == "" {
			return "", http.StatusBadRequest, "invalid_request", "use one Authorization: Bearer header"
		}
		found = append(found, strings.TrimSpace(v))
	}
	if req.Method == http.MethodPost && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		req.Body = http.MaxBytesReader(c.Response(), req.Body, maxBody)
		if err := req.ParseForm(); err != nil {
			return "", http.StatusBadRequest, "invalid_request", "the body is not valid form encoding"
		}
		if v := req.PostForm["access_token"]; len(v) > 0 {
			if len(v) > 1 {
				return "", http.StatusBadRequest, "invalid_request", "access_token is repeated"
			}
			found = append(found, v[0])
		}
	}
	if req.URL.Query().Has("access_token") {
		return "", http.StatusBadRequest, "invalid_request", "the access token must not be sent in the URL"
	}
	switch len(found) {
	case 0:
		return "", http.StatusUnauthorized, "", ""
	case 1:
		return found[0], 0, "", ""
	}
	return "", http.StatusBadRequest, "invalid_request", "the access token was sent in more than one way (RFC 6750 §2)"
}

// bearerError writes RFC 6750 §3's answer; no code: no error attributes
// (a request without a token).
func bearerError(c echo.Context, status int, code, desc string) error {
	v := `Bearer realm="idp"`
	if code != "" {
		v += `, error="` + code + `", error_description="` + desc + `"`
	}
	if code == "insufficient_scope" {
		v += `, scope="openid"`
	}
	c.Response().Header().Set("WWW-Authenticate", v)
	if code == "" {
		return c.NoContent(status)
	}
	return c.JSON(status, errorBody{Error: code, Description: desc})
}
