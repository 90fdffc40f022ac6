package oauth2

import (
	"errors"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
)

// authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3):
// redeem the code once, check that it was issued to this client for this
// redirect URI and that the verifier matches its challenge, then issue an
// access token, an ID token (scope openid) and a refresh token (scope
// offline_access, for a client allowed the refresh_token grant). A code
// failing any check is spent all the same; a replayed one revokes what its
// first redemption issued.
func (s *surface) authorizationCode(c echo.Context, client storage.Client, f form) *Error {
	code, redirectURI, verifier := f.get("code"), f.get("redirect_uri"), f.get("code_verifier")
	if code == "" || redirectURI == "" {
		return badRequest(errInvalidRequest, "code and redirect_uri are required")
	}
	if verifier != "" && !authorize.ValidVerifier(verifier) {
		return badRequest(errInvalidRequest, "code_verifier must be 43-128 unreserved characters (RFC 7636 §4.1)")
	}
	ctx := c.Request().Context()
	bad := func(why string, cause error) *Error {
		return &Error{Status: http.StatusBadRequest, Code: errInvalidGrant, Description: why, Cause: cause}
	}
	cd, err := s.oidc.Flow.Redeem(ctx, code)
	switch {
	case errors.Is(err, authorize.ErrCodeReplayed):
		return bad("the authorization code was already used; the tokens issued for it are revoked", err)
	case errors.Is(err, authorize.ErrInvalidCode):
		return bad("the authorization code is invalid, expired or already used", err)
	case err != nil:
		return serverError(err)
	}
	switch {
	case cd.ClientID != client.ID:
		return bad("the authorization code was issued to another client", nil)
	case cd.RedirectURI != redirectURI:
		return bad("redirect_uri differs from the authorization request's", nil)
	case cd.CodeChallenge == "" && verifier != "":
		return bad("code_verifier sent but the authorization request had no code_challenge", nil)
	case cd.CodeChallenge != "" && verifier == "":
		return badRequest(errInvalidRequest, "code_verifier is required (the authorization request used PKCE)")
	case cd.CodeChallenge != "" && !authorize.VerifyPKCE(cd.CodeChallenge, verifier):
		return bad("code_verifier does not match the code_challenge", nil)
	}
	user, err := s.oidc.Accounts.Get(ctx, cd.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !user.IsActive) {
		return bad("the account is inactive or gone", err)
	}
	if err != nil {
		return serverError(err)
	}
	aud, err := clients.Audience(client, nil)
	if err != nil {
		return serverError(err)
	}
	g := tokens.Grant{ClientID: client.ID, Scope: cd.Scopes, Audience: aud, AccessTTL: client.AccessTTL,
		RefreshTTL: client.RefreshTTL, AuthTime: cd.AuthTime}
	withRefresh := slices.Contains(cd.Scopes, clients.ScopeOfflineAccess) && clients.Allows(client, clients.GrantRefreshToken)
	out, err := s.tokens.LoginGrant(ctx, user, g, withRefresh, clientOf(c))
	if err != nil {
		return serverError(err)
	}
	if out.FamilyID != "" {
		if err := s.oidc.Flow.Link(ctx, storage.GrantLink{FamilyID: out.FamilyID, BrowserSessionID: cd.BrowserSessionID,
			ClientID: client.ID, UserID: user.ID, AuthTime: cd.AuthTime}); err != nil {
			return serverError(err)
		}
	}
	if err := s.oidc.Flow.Issued(ctx, code, out.FamilyID, out.AccessJTI, out.AccessExpiresAt); err != nil {
		return serverError(err)
	}
	idToken := ""
	if slices.Contains(cd.Scopes, clients.ScopeOpenID) {
		idToken, err = s.oidc.IDTokens.SignIDToken(tokens.IDToken{
			ClientID: client.ID, UserID: user.ID, AuthTime: cd.AuthTime, SessionID: cd.BrowserSessionID,
			Nonce: cd.Nonce, AccessToken: out.Access, Email: user.Email, Name: user.Name, Scopes: cd.Scopes,
			TTL: s.oidc.IDTokenTTL,
		})
		if err != nil {
			return serverError(err)
		}
	}
	return issuedWithID(c, out, idToken)
}

// refreshIDToken is the ID token of a refresh (OIDC Core §12.2) of a
// family the code flow started: the same sid and auth_time as at login.
func (s *surface) refreshIDToken(c echo.Context, client storage.Client, out tokens.GrantTokens) (string, *Error) {
	if s.oidc.Flow == nil || out.FamilyID == "" || !slices.Contains(out.Scope, clients.ScopeOpenID) {
		return "", nil
	}
	ctx := c.Request().Context()
	link, err := s.oidc.Flow.LinkOf(ctx, out.FamilyID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", serverError(err)
	}
	user, err := s.oidc.Accounts.Get(ctx, link.UserID)
	if err != nil {
		return "", serverError(err)
	}
	tok, err := s.oidc.IDTokens.SignIDToken(tokens.IDToken{ClientID: client.ID, UserID: user.ID, AuthTime: link.AuthTime,
		SessionID: link.BrowserSessionID, AccessToken: out.Access, Email: user.Email, Name: user.Name, Scopes: out.Scope,
		TTL: s.oidc.IDTokenTTL})
	if err != nil {
		return "", serverError(err)
	}
	return tok, nil
}
