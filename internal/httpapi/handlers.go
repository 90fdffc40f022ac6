package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

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
	c.Response().Header().Set("Allow", allowPost)
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
	u, err := a.users.Register(c.Request().Context(), in)
	if err != nil {
		var ve *users.ValidationError
		if errors.As(err, &ve) {
			return errFields(ve)
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
	u, err := a.users.Authenticate(ctx, email, password)
	if err != nil {
		if errors.Is(err, users.ErrInvalidCredentials) {
			return &Error{Status: http.StatusUnauthorized, Body: detailBody{Detail: "No active account found with the given credentials"}}
		}
		return errInternal(err)
	}
	pair, err := a.tokens.Login(ctx, u, clientOf(c))
	if err != nil {
		return errInternal(err)
	}
	return writeJSON(c, http.StatusOK, pairBody{Refresh: pair.Refresh, Access: pair.Access})
}

// POST token/refresh/ — rotates the refresh token.
func (a *api) refreshToken(c echo.Context) error {
	if done, err := a.preflight(c, allowPost, metaRefresh); done {
		return err
	}
	b, herr := decodeBody(c.Request(), a.maxBody)
	if herr != nil {
		return herr
	}
	var ve users.ValidationError
	refresh := b.str("refresh", false, &ve)
	if !ve.Empty() {
		return errFields(&ve)
	}
	pair, err := a.tokens.Refresh(c.Request().Context(), refresh, clientOf(c))
	if err != nil {
		return tokenError(err)
	}
	return writeJSON(c, http.StatusOK, refreshBody{Access: pair.Access, Refresh: pair.Refresh})
}

// POST token/verify/ — {} when the token is valid.
func (a *api) verifyToken(c echo.Context) error {
	if done, err := a.preflight(c, allowPost, metaVerify); done {
		return err
	}
	b, herr := decodeBody(c.Request(), a.maxBody)
	if herr != nil {
		return herr
	}
	var ve users.ValidationError
	token := b.str("token", false, &ve)
	if !ve.Empty() {
		return errFields(&ve)
	}
	if err := a.tokens.Verify(c.Request().Context(), token); err != nil {
		return tokenError(err)
	}
	return writeJSON(c, http.StatusOK, struct{}{})
}

// GET logged-user/ — the bearer's user. Authentication comes before the
// method check, as in DRF.
func (a *api) loggedUser(c echo.Context) error {
	c.Response().Header().Set("Allow", allowGetHeadOption)
	u, present, err := a.authenticate(c)
	if err != nil {
		return err
	}
	if !present {
		return errDetail(http.StatusUnauthorized, msgNotProvided)
	}
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead:
		return writeJSON(c, http.StatusOK, userJSON(u))
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

// authenticate is SimpleJWT's JWTAuthentication. present is false when
// there is no Authorization header or its scheme is not exactly "Bearer"
// (no credentials, not an error); otherwise err is the 401 to answer.
func (a *api) authenticate(c echo.Context) (u storage.User, present bool, err error) {
	// SimpleJWT splits the header bytes on ASCII whitespace only.
	parts := strings.FieldsFunc(c.Request().Header.Get("Authorization"), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	})
	if len(parts) == 0 || parts[0] != "Bearer" {
		return storage.User{}, false, nil
	}
	if len(parts) != 2 {
		return storage.User{}, true, errCode(http.StatusUnauthorized, "Authorization header must contain two space-delimited values", "bad_authorization_header")
	}
	ctx := c.Request().Context()
	claims, verr := a.tokens.VerifyAccess(ctx, parts[1])
	switch {
	case verr == nil:
	case errors.Is(verr, tokens.ErrWrongType):
		return storage.User{}, true, errAccessToken("Token has wrong type", verr)
	case errors.Is(verr, tokens.ErrNoUserID):
		return storage.User{}, true, tokenError(verr)
	case errors.Is(verr, tokens.ErrTokenInvalid):
		return storage.User{}, true, errAccessToken(msgTokenInvalid, verr)
	case errors.Is(verr, tokens.ErrBlacklisted):
		return storage.User{}, true, errAccessToken("Token is blacklisted", verr)
	case errors.Is(verr, tokens.ErrNoActiveAccount):
		return storage.User{}, true, errCode(http.StatusUnauthorized, "User is inactive", "user_inactive")
	default:
		return storage.User{}, true, errInternal(verr)
	}
	u, gerr := a.users.Get(ctx, claims.UserID)
	switch {
	case errors.Is(gerr, storage.ErrNotFound):
		return storage.User{}, true, errCode(http.StatusUnauthorized, "User not found", "user_not_found")
	case gerr != nil:
		return storage.User{}, true, errInternal(gerr)
	case !u.IsActive:
		return storage.User{}, true, errCode(http.StatusUnauthorized, "User is inactive", "user_inactive")
	}
	return u, true, nil
}

// preflight handles what every POST endpoint shares: Allow on every
// answer, OPTIONS with DRF-style metadata, 405 for other methods. done
// reports that the response (or error) is final.
func (a *api) preflight(c echo.Context, allow string, meta metadata) (done bool, err error) {
	c.Response().Header().Set("Allow", allow)
	switch c.Request().Method {
	case http.MethodPost:
		return false, nil
	case http.MethodOptions:
		return true, writeJSON(c, http.StatusOK, meta)
	}
	return true, methodNotAllowed(c, allow)
}
