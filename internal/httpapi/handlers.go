package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// userBody is the tutorial's user object, keys in its order.
type userBody struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	IsActive bool   `json:"is_active"`
}

func userJSON(u storage.User) userBody {
	return userBody{ID: u.ID, Name: u.Name, Email: u.Email, IsActive: u.IsActive}
}

// pairBody is a login's answer: refresh, then access.
type pairBody struct {
	Refresh string `json:"refresh"`
	Access  string `json:"access"`
}

// refreshBody is a refresh's answer: access, then refresh.
type refreshBody struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// POST register/ — open to anyone, but DRF's default authentication still
// runs: a present, invalid bearer token is a 401 and creates nothing.
func (a *api) register(c echo.Context) error {
	setAllow(c.Response().Header(), allowPost)
	if _, present, err := a.authenticate(c); present && err != nil {
		return err
	}
	if done, err := a.preflight(c, allowPost, metaRegister); done {
		return err
	}
	b, herr := decodeBody(c.Request(), a.maxBody)
	if herr != nil {
		return herr
	}
	var typeErrs users.ValidationError
	in := users.Registration{
		Name:     b.str("name", true, &typeErrs),
		Email:    b.str("email", true, &typeErrs),
		Password: b.str("password", true, &typeErrs),
	}
	// Merge, field by field in the serializer's order, the decoding errors
	// with the core's validation of the fields that decoded.
	core := a.users.ValidateRegistration(in)
	if !typeErrs.Empty() || core != nil {
		merged := &users.ValidationError{}
		for _, name := range []string{"name", "email", "password"} {
			src := core
			if typeErrs.Has(name) {
				src = &typeErrs
			}
			if src == nil {
				continue
			}
			for _, f := range src.Fields {
				if f.Field == name {
					for _, m := range f.Messages {
						merged.Add(name, m)
					}
				}
			}
		}
		if !merged.Empty() {
			return errFields(merged)
		}
	}
	// Rate-limited once the request is valid, before any password work.
	if a.regLimit != nil {
		wait, err := a.regLimit.Admit(c.Request().Context(), clientOf(c).IP)
		if err != nil {
			return errInternal(err)
		}
		if wait > 0 {
			return errThrottled(wait)
		}
	}
	u, err := a.users.Register(c.Request().Context(), in)
	if err != nil {
		var ve *users.ValidationError
		if errors.As(err, &ve) {
			return errFields(ve)
		}
		if errors.Is(err, users.ErrBusy) {
			return errBusy(err)
		}
		return errInternal(err)
	}
	return writeJSON(c, http.StatusOK, userJSON(u))
}

// POST token/ — email + password → a token pair. One indistinguishable
// 401 for unknown email, wrong password and inactive account.
func (a *api) obtainToken(c echo.Context) error {
	if done, err := a.preflight(c, allowPost, metaToken); done {
		return err
	}
	b, herr := decodeBody(c.Request(), a.maxBody)
	if herr != nil {
		return herr
	}
	var ve users.ValidationError
	email := b.str("email", false, &ve)
	password := b.str("password", false, &ve)
	if !ve.Empty() {
		return errFields(&ve)
	}
	ctx := c.Request().Context()
	client := clientOf(c)
	res, err := a.login.Login(ctx, authn.Attempt{Email: email, Password: password, IP: client.IP, UserAgent: client.UserAgent, Device: deviceCookie(c)})
	var te *authn.ThrottledError
	switch {
	case errors.As(err, &te):
		return errThrottled(te.RetryAfter)
	case errors.Is(err, authn.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnauthorized, Body: detailBody{Detail: "No active account found with the given credentials"}}
	case errors.Is(err, authn.ErrBusy):
		return errBusy(err)
	case err != nil:
		return errInternal(err)
	}
	u := res.User
	pair, err := a.tokens.Login(ctx, u, client)
	if err != nil {
		return errInternal(err)
	}
	setDeviceCookie(c, res)
	return writeJSON(c, http.StatusOK, pairBody{Refresh: pair.Refresh, Access: pair.Access})
}

// POST token/refresh/ — rotates the refresh token.
func (a *api) refreshToken(c echo.Context) error {
	refresh, done, err := a.postField(c, metaRefresh, "refresh")
	if done {
		return err
	}
	pair, err := a.tokens.Refresh(c.Request().Context(), refresh, clientOf(c))
	if err != nil {
		return tokenError(err)
	}
	return writeJSON(c, http.StatusOK, refreshBody{Access: pair.Access, Refresh: pair.Refresh})
}

// POST token/verify/ — {} when the token is valid.
func (a *api) verifyToken(c echo.Context) error {
	token, done, err := a.postField(c, metaVerify, "token")
	if done {
		return err
	}
	if err := a.tokens.Verify(c.Request().Context(), token); err != nil {
		return tokenError(err)
	}
	return writeJSON(c, http.StatusOK, struct{}{})
}

// GET logged-user/ — the bearer's user. Authentication comes before the
// method check, as in DRF.
func (a *api) loggedUser(c echo.Context) error {
	setAllow(c.Response().Header(), allowGetHeadOption)
	p, err := a.requireUser(c)
	if err != nil {
		return err
	}
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead:
		return writeJSON(c, http.StatusOK, userJSON(p.user))
	case http.MethodOptions:
		return writeJSON(c, http.StatusOK, metaLoggedUser)
	}
	return methodNotAllowed(c, allowGetHeadOption)
}

// tokenError renders the core's token errors with SimpleJWT's words.
func tokenError(err error) error {
	switch {
	case errors.Is(err, tokens.ErrTokenInvalid):
		return &Error{Status: http.StatusUnauthorized, Body: detailBody{Detail: msgTokenInvalid, Code: codeTokenNotValid}, Cause: err}
	case errors.Is(err, tokens.ErrWrongType):
		return &Error{Status: http.StatusUnauthorized, Body: detailBody{Detail: "Token has wrong type", Code: codeTokenNotValid}, Cause: err}
	case errors.Is(err, tokens.ErrBlacklisted):
		return &Error{Status: http.StatusUnauthorized, Body: detailBody{Detail: "Token is blacklisted", Code: codeTokenNotValid}, Cause: err}
	case errors.Is(err, tokens.ErrNoUserID):
		return &Error{Status: http.StatusUnauthorized, Body: detailBody{Detail: "Token contained no recognizable user identification", Code: codeTokenNotValid}, Cause: err}
	case errors.Is(err, tokens.ErrNoActiveAccount):
		return &Error{Status: http.StatusUnauthorized, Body: detailBody{Detail: "No active account found for the given token.", Code: "no_active_account"}, Cause: err}
	}
	return errInternal(err)
}

// principal is who a valid bearer token speaks for.
type principal struct {
	user storage.User
	// session is the login session the access token was issued in.
	session string
}

// authenticate is SimpleJWT's JWTAuthentication. present is false when
// there is no Authorization header or its scheme is not exactly "Bearer"
// (no credentials, not an error); otherwise err is the 401 to answer.
func (a *api) authenticate(c echo.Context) (p principal, present bool, err error) {
	// SimpleJWT splits the header bytes on ASCII whitespace only.
	parts := strings.FieldsFunc(c.Request().Header.Get("Authorization"), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	})
	if len(parts) == 0 || parts[0] != "Bearer" {
		return principal{}, false, nil
	}
	if len(parts) != 2 {
		return principal{}, true, errCode(http.StatusUnauthorized, "Authorization header must contain two space-delimited values", "bad_authorization_header")
	}
	ctx := c.Request().Context()
	claims, verr := a.tokens.VerifyAccess(ctx, parts[1])
	switch {
	case verr == nil:
	case errors.Is(verr, tokens.ErrWrongType):
		return principal{}, true, errAccessToken("Token has wrong type", verr)
	case errors.Is(verr, tokens.ErrNoUserID):
		return principal{}, true, tokenError(verr)
	case errors.Is(verr, tokens.ErrTokenInvalid):
		return principal{}, true, errAccessToken(msgTokenInvalid, verr)
	case errors.Is(verr, tokens.ErrBlacklisted):
		return principal{}, true, errAccessToken("Token is blacklisted", verr)
	case errors.Is(verr, tokens.ErrNoActiveAccount):
		return principal{}, true, errCode(http.StatusUnauthorized, "User is inactive", "user_inactive")
	default:
		return principal{}, true, errInternal(verr)
	}
	u, gerr := a.users.Get(ctx, claims.UserID)
	switch {
	case errors.Is(gerr, storage.ErrNotFound):
		return principal{}, true, errCode(http.StatusUnauthorized, "User not found", "user_not_found")
	case gerr != nil:
		return principal{}, true, errInternal(gerr)
	case !u.IsActive:
		return principal{}, true, errCode(http.StatusUnauthorized, "User is inactive", "user_inactive")
	}
	return principal{user: u, session: claims.SessionID}, true, nil
}

// requireUser authenticates an endpoint that needs a bearer token.
func (a *api) requireUser(c echo.Context) (principal, error) {
	p, present, err := a.authenticate(c)
	if err != nil {
		return principal{}, err
	}
	if !present {
		return principal{}, errDetail(http.StatusUnauthorized, msgNotProvided)
	}
	return p, nil
}

// postField serves what the token endpoints share (refresh/, verify/,
// blacklist/): a POST whose body is one required, non-blank string field.
// done reports that err (nil for an OPTIONS answer already written) is the
// response.
func (a *api) postField(c echo.Context, meta metadata, name string) (value string, done bool, err error) {
	if done, err := a.preflight(c, allowPost, meta); done {
		return "", true, err
	}
	b, herr := decodeBody(c.Request(), a.maxBody)
	if herr != nil {
		return "", true, herr
	}
	var ve users.ValidationError
	value = b.str(name, false, &ve)
	if !ve.Empty() {
		return "", true, errFields(&ve)
	}
	return value, false, nil
}

// preflight handles what every POST endpoint shares: Allow on every
// answer, OPTIONS with DRF-style metadata, 405 for other methods. done
// reports that the response (or error) is final.
func (a *api) preflight(c echo.Context, allow string, meta metadata) (done bool, err error) {
	setAllow(c.Response().Header(), allow)
	switch c.Request().Method {
	case http.MethodPost:
		return false, nil
	case http.MethodOptions:
		return true, writeJSON(c, http.StatusOK, meta)
	}
	return true, methodNotAllowed(c, allow)
}
