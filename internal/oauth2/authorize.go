package oauth2

import (
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authorize"
	"github.com/idp/idp/internal/clients"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/websession"
)

// Sessions is the browser session (*websession.Manager).
type Sessions interface {
	Get(r *http.Request) (websession.Session, error)
}

// Authorization endpoint errors (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
const (
	errUnsupportedResponseType = "unsupported_response_type"
	errAccessDenied            = "access_denied"
	errLoginRequired           = "login_required"
	errConsentRequired         = "consent_required"
	errRequestNotSupported     = "request_not_supported"
	errRequestURINotSupported  = "request_uri_not_supported"
)

// authzError is an error sent back to the client's redirect URI.
type authzError struct{ code, description string }

// GET/POST /oauth2/authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
func (s *surface) authorize(c echo.Context) error {
	noStore(c)
	p, msg := authorizeParams(c, s.maxBody)
	if msg != "" {
		return s.errorPage(c, http.StatusBadRequest, msg)
	}
	ctx := c.Request().Context()
	clientID, redirectURI := p.Get("client_id"), p.Get("redirect_uri")
	if clientID == "" {
		return s.errorPage(c, http.StatusBadRequest, "The request has no client_id.")
	}
	client, err := s.clients.Lookup(ctx, clientID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !client.Enabled) {
		return s.errorPage(c, http.StatusBadRequest, "The application (client_id) is unknown or disabled.")
	}
	if err != nil {
		return s.serverErrorPage(c, err)
	}
	if redirectURI == "" || !clients.MatchRedirectURI(client, redirectURI) {
		return s.errorPage(c, http.StatusBadRequest, "The redirect_uri is missing or not registered for this application.")
	}
	mode := p.Get("response_mode")
	if mode == "" {
		mode = "query"
	}
	back := response{redirectURI: redirectURI, state: p.Get("state"), mode: mode, issuer: s.issuer}
	if mode != "query" && mode != "form_post" {
		back.mode = "query"
		return s.respond(c, back, nil, &authzError{errInvalidRequest, "response_mode must be query or form_post"})
	}
	req, ae := s.validateAuthorize(client, p)
	if ae != nil {
		return s.respond(c, back, nil, ae)
	}
	req.RedirectURI, req.ResponseMode = redirectURI, mode
	req.CreatedAt = s.now()
	// Parked only when the login or consent page is needed (proceed):
	// an SSO answer costs no write of the request.
	return s.proceed(c, "", req, client)
}

// validateAuthorize checks everything but client and redirect URI.
func (s *surface) validateAuthorize(client storage.Client, p url.Values) (authorize.Request, *authzError) {
	r := authorize.Request{ClientID: client.ID, State: p.Get("state"), Nonce: p.Get("nonce"),
		LoginHint: p.Get("login_hint"), MaxAge: -1}
	switch {
	case p.Get("request") != "":
		return r, &authzError{errRequestNotSupported, "request objects are not supported"}
	case p.Get("request_uri") != "":
		return r, &authzError{errRequestURINotSupported, "request_uri is not supported"}
	case !clients.Allows(client, clients.GrantAuthorizationCode):
		return r, &authzError{errUnauthorizedClient, "this client may not use the authorization code flow"}
	}
	switch rt := p.Get("response_type"); {
	case rt == "":
		return r, &authzError{errInvalidRequest, "response_type is required"}
	case rt != "code":
		return r, &authzError{errUnsupportedResponseType, "only response_type=code is supported"}
	}
	if raw := p.Get("scope"); raw != "" {
		parts := strings.Split(raw, " ")
		for _, sc := range parts {
			if !clients.ValidScopeToken(sc) {
				return r, &authzError{errInvalidScope, "scope is not a list of scope tokens separated by single spaces"}
			}
		}
		scopes, err := s.clients.Scopes(client, parts, true, nil)
		if err != nil {
			var se *clients.ScopeError
			if errors.As(err, &se) {
				return r, &authzError{errInvalidScope, se.Error()}
			}
			return r, &authzError{errServerError, "the server could not check the scope"}
		}
		r.Scopes = scopes
	} else {
		return r, &authzError{errInvalidScope, "scope is required (openid for OpenID Connect)"}
	}
	method, challenge := p.Get("code_challenge_method"), p.Get("code_challenge")
	switch {
	case method != "" && method != "S256":
		return r, &authzError{errInvalidRequest, "code_challenge_method must be S256 (plain is not accepted)"}
	case challenge == "" && method != "":
		return r, &authzError{errInvalidRequest, "code_challenge_method without code_challenge"}
	case challenge == "" && client.Type == storage.ClientPublic:
		return r, &authzError{errInvalidRequest, "a public client must use PKCE: code_challenge with code_challenge_method=S256"}
	case challenge != "" && method == "":
		return r, &authzError{errInvalidRequest, "code_challenge_method=S256 is required (the plain default is not accepted)"}
	case challenge != "" && !authorize.ValidChallenge(challenge):
		return r, &authzError{errInvalidRequest, "code_challenge is not an S256 challenge (43 base64url characters)"}
	}
	r.CodeChallenge = challenge
	if raw := p.Get("prompt"); raw != "" {
		for _, pr := range strings.Split(raw, " ") {
			if !slices.Contains([]string{"none", "login", "consent", "select_account"}, pr) {
				return r, &authzError{errInvalidRequest, "prompt " + strconv.Quote(pr) + " is not supported"}
			}
			r.Prompt = append(r.Prompt, pr)
		}
		if r.HasPrompt("none") && len(r.Prompt) > 1 {
			return r, &authzError{errInvalidRequest, "prompt=none cannot be combined with other prompts"}
		}
	}
	if raw := p.Get("max_age"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return r, &authzError{errInvalidRequest, "max_age must be a non-negative integer"}
		}
		r.MaxAge = n
	}
	for name, v := range map[string]string{"state": r.State, "nonce": r.Nonce, "login_hint": r.LoginHint} {
		if len(v) > 1024 {
			return r, &authzError{errInvalidRequest, name + " is longer than 1024 bytes"}
		}
	}
	return r, nil
}

// GET /oauth2/authorize/resume?req=<id>: the login or consent page hands
// the parked request back.
func (s *surface) resume(c echo.Context) error {
	noStore(c)
	ctx := c.Request().Context()
	id := c.QueryParam("req")
	req, err := s.oidc.Flow.Pending(ctx, id)
	if errors.Is(err, authorize.ErrUnknownRequest) {
		return s.errorPage(c, http.StatusBadRequest, "This sign-in request has expired or was already used. Go back to the application and start again.")
	}
	if err != nil {
		return s.serverErrorPage(c, err)
	}
	client, err := s.clients.Lookup(ctx, req.ClientID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !client.Enabled) {
		return s.errorPage(c, http.StatusBadRequest, "The application (client_id) is unknown or disabled.")
	}
	if err != nil {
		return s.serverErrorPage(c, err)
	}
	return s.proceed(c, id, req, client)
}

// proceed decides what the parked request needs next: the login page, the
// consent page, or its answer.
func (s *surface) proceed(c echo.Context, id string, req authorize.Request, client storage.Client) error {
	ctx := c.Request().Context()
	back := response{redirectURI: req.RedirectURI, state: req.State, mode: req.ResponseMode, issuer: s.issuer}
	finish := func(code string, ae *authzError) error {
		if id != "" {
			if err := s.oidc.Flow.Finish(ctx, id); err != nil {
				return s.serverErrorPage(c, err)
			}
		}
		return s.respond(c, back, &code, ae)
	}
	// toPage parks the request (first time) and sends the browser to a page.
	toPage := func(path string) error {
		if id == "" {
			var err error
			if id, req, err = s.oidc.Flow.Park(ctx, req); err != nil {
				return s.serverErrorPage(c, err)
			}
		}
		return c.Redirect(http.StatusSeeOther, path+"?req="+url.QueryEscape(id))
	}
	if req.Denied {
		return finish("", &authzError{errAccessDenied, "the user did not allow the request"})
	}
	sess, err := s.oidc.Sessions.Get(c.Request())
	if err != nil && !errors.Is(err, websession.ErrNoSession) {
		return s.serverErrorPage(c, err)
	}
	var user storage.User
	fresh := sess.Authenticated() && !sess.AuthTime.Before(req.CreatedAt) // logged in during this request
	needLogin := !sess.Authenticated()
	if !needLogin && !fresh {
		age := s.now().Sub(sess.AuthTime)
		needLogin = req.HasPrompt("login") || (req.MaxAge >= 0 && age > secs(req.MaxAge))
	}
	if !needLogin {
		user, err = s.oidc.Accounts.Get(ctx, sess.UserID)
		// A password set after the sign-in voids the session (as it voids
		// refresh families).
		if errors.Is(err, storage.ErrNotFound) || (err == nil && (!user.IsActive || sess.AuthTime.Before(user.PasswordChangedAt))) {
			needLogin = true
		} else if err != nil {
			return s.serverErrorPage(c, err)
		}
	}
	if needLogin {
		if req.HasPrompt("none") {
			return finish("", &authzError{errLoginRequired, "the user is not signed in"})
		}
		return toPage(s.oidc.LoginPath)
	}
	if !client.FirstParty && !req.Consented {
		ok, err := s.oidc.Flow.Consented(ctx, user.ID, client.ID, req.Scopes)
		if err != nil {
			return s.serverErrorPage(c, err)
		}
		if !ok || req.HasPrompt("consent") {
			if req.HasPrompt("none") {
				return finish("", &authzError{errConsentRequired, "the user has not consented to this application"})
			}
			return toPage(s.oidc.ConsentPath)
		}
	}
	code, err := s.oidc.Flow.IssueCode(ctx, authorize.Code{
		ClientID: client.ID, RedirectURI: req.RedirectURI, Scopes: req.Scopes, Nonce: req.Nonce,
		CodeChallenge: req.CodeChallenge, UserID: user.ID, BrowserSessionID: sess.ID, AuthTime: sess.AuthTime,
	})
	if err != nil {
		return s.serverErrorPage(c, err)
	}
	return finish(code, nil)
}

// response is where and how an authorization answer goes back.
type response struct {
	redirectURI, state, mode, issuer string
}

// respond sends the code (or the error) back to the client: a 303 to the
// redirect URI with the parameters in its query, or an auto-submitting
// form (form_post). RFC 9207's iss goes along.
func (s *surface) respond(c echo.Context, r response, code *string, ae *authzError) error {
	vals := url.Values{}
	if ae != nil {
		vals.Set("error", ae.code)
		vals.Set("error_description", ae.description)
	} else {
		vals.Set("code", *code)
	}
	if r.state != "" {
		vals.Set("state", r.state)
	}
	vals.Set("iss", r.issuer)
	if r.mode == "form_post" {
		nonce := randomNonce()
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action "+originOf(r.redirectURI)+"; frame-ancestors 'none'")
		h.Set("Content-Type", "text/html; charset=utf-8")
		c.Response().WriteHeader(http.StatusOK)
		return formPostPage.Execute(c.Response(), map[string]any{"Action": r.redirectURI, "Values": vals, "Nonce": nonce})
	}
	u, err := url.Parse(r.redirectURI)
	if err != nil {
		return s.serverErrorPage(c, err)
	}
	q := u.Query()
	for k, v := range vals {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return c.Redirect(http.StatusSeeOther, u.String())
}

// authorizeParams reads the request's parameters: the query of a GET, the
// form body of a POST (OIDC Core §3.1.2.1). A repeated parameter is an
// error (RFC 6749 §3.1), shown on the page: it may be the client_id.
func authorizeParams(c echo.Context, maxBody int64) (url.Values, string) {
	req := c.Request()
	var raw string
	switch req.Method {
	case http.MethodGet:
		raw = req.URL.RawQuery
	case http.MethodPost:
		b, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxBody))
		if err != nil {
			return nil, "The request body is too large or could not be read."
		}
		raw = string(b)
	default:
		c.Response().Header().Set("Allow", "GET, POST")
		return nil, "Method not allowed: use GET or POST."
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "The request's parameters are not valid URL encoding."
	}
	for k, v := range vals {
		if len(v) > 1 {
			return nil, "The parameter " + strconv.Quote(k) + " is repeated."
		}
	}
	return vals, ""
}

var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form method="post" action="{{.Action}}">
{{range $k, $v := .Values}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<noscript><button type="submit">Continue</button></noscript></form>
<script nonce="{{.Nonce}}">document.forms[0].submit()</script></body></html>
`))
