package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Tokens of OAuth 2.0 grants (/oauth2/token). Their access tokens follow
// RFC 9068 — iss, sub, aud, exp, iat, jti, client_id, scope — and keep
// token_type "access" and, for a user, the user id claim and sid, so that
// idp's own bearer checks (/api/logged-user/) accept them too. The email
// claim is there only with the email scope. Their refresh tokens are the
// same families as /api/token/'s, bound to the client by the signed
// client_id claim, with the scope granted at login.

// Claims of OAuth 2.0 tokens.
const (
	claimClientID = "client_id"
	claimScope    = "scope"
)

// ErrScopeWidened: a refresh asked for a scope the original grant did not
// have (RFC 6749 §6: a refresh may only narrow).
var ErrScopeWidened = errors.New("requested scope exceeds the original grant")

// ErrOtherClient: the token was not issued to the client presenting it.
var ErrOtherClient = errors.New("token was issued to another client")

// Grant is the OAuth 2.0 context of an issuing: who asked and for what.
type Grant struct {
	ClientID string
	Scope    []string
	// Audience is the access token's aud; empty: the configured audience,
	// or else the issuer (the token is for idp's own API).
	Audience []string
	// AccessTTL and RefreshTTL may shorten the global lifetimes (zero or
	// longer: the global one). They never lengthen them: signing keys and
	// the session janitor are scheduled on the global lifetimes.
	AccessTTL  time.Duration
	RefreshTTL time.Duration
}

// GrantTokens is what a grant hands out.
type GrantTokens struct {
	Access    string
	ExpiresIn time.Duration
	// Refresh is "" when none is issued.
	Refresh string
	// Scope is the access token's scope.
	Scope []string
}

// shorter is d when it is positive and below limit, else limit.
func shorter(d, limit time.Duration) time.Duration {
	if d > 0 && d < limit {
		return d
	}
	return limit
}

// grantClaims reads client_id and scope.
func (c *claims) grantClaims(raw map[string]json.RawMessage) error {
	if v, present := raw[claimClientID]; present {
		id, ok := str(v)
		if !ok || id == "" {
			return invalid("client_id")
		}
		c.clientID = id
	}
	if v, present := raw[claimScope]; present {
		sc, ok := str(v)
		if !ok {
			return invalid("scope")
		}
		c.scope = strings.Fields(sc)
	}
	return nil
}

// signGrantAccess makes an RFC 9068 access token of grant g; u is nil for
// client_credentials (sub is then the client id).
func (s *Service) signGrantAccess(u *storage.User, sid string, authTime time.Time, g Grant, now time.Time) (string, time.Duration, error) {
	key, err := s.keys.SigningKey(s.accessAlg)
	if err != nil {
		return "", 0, fmt.Errorf("access token: %w", err)
	}
	ttl := shorter(g.AccessTTL, s.accessTTL)
	iat := now.Truncate(time.Second)
	aud := g.Audience
	if len(aud) == 0 {
		aud = s.audience
	}
	if len(aud) == 0 {
		aud = []string{s.issuer}
	}
	var w claimWriter
	w.str("iss", s.issuer)
	if u != nil {
		w.str("sub", strconv.FormatInt(u.ID, 10))
	} else {
		w.str("sub", g.ClientID)
	}
	w.aud(aud)
	w.int("exp", iat.Add(ttl).Unix())
	w.int("iat", iat.Unix())
	w.str("jti", newJTI())
	w.str(claimClientID, g.ClientID)
	w.str(claimScope, strings.Join(g.Scope, " "))
	w.str(claimTokenType, "access")
	if u != nil {
		w.int(s.userIDClaim, u.ID)
		if slices.Contains(g.Scope, "email") {
			w.str(claimEmail, u.Email)
		}
		if sid != "" {
			w.str(claimSession, sid)
		}
		w.int(claimAuthTime, authTime.Unix())
	}
	tok, err := sign(key, kinds[kindAccess].typ, w.bytes())
	if err != nil {
		return "", 0, fmt.Errorf("access token: %w", err)
	}
	return tok, ttl, nil
}

// IssueClient is client_credentials (RFC 6749 §4.4): an access token
// whose subject is the client itself, no refresh token. Nothing is stored.
func (s *Service) IssueClient(_ context.Context, g Grant) (GrantTokens, error) {
	tok, ttl, err := s.signGrantAccess(nil, "", time.Time{}, g, s.now())
	if err != nil {
		return GrantTokens{}, err
	}
	return GrantTokens{Access: tok, ExpiresIn: ttl, Scope: g.Scope}, nil
}

// LoginGrant issues the tokens of a user grant (password): an access
// token and, with withRefresh, a new family bound to g's client.
func (s *Service) LoginGrant(ctx context.Context, u storage.User, g Grant, withRefresh bool, c Client) (GrantTokens, error) {
	if !u.IsActive {
		return GrantTokens{}, ErrNoActiveAccount
	}
	now := storeTime(s.now())
	out := GrantTokens{Scope: g.Scope}
	sid := ""
	if withRefresh {
		f, err := s.startFamily(ctx, u, c, now)
		if err != nil {
			return GrantTokens{}, fmt.Errorf("login: %w", err)
		}
		if out.Refresh, err = s.signRefreshWith(f, &g); err != nil {
			return GrantTokens{}, err
		}
		sid = f.ID
	}
	var err error
	out.Access, out.ExpiresIn, err = s.signGrantAccess(&u, sid, now, g, now)
	if err != nil {
		return GrantTokens{}, err
	}
	return out, nil
}

// RefreshGrant is refresh_token (RFC 6749 §6) for the client g.ClientID:
// the refresh token must have been issued to it. g.Scope is the scope
// asked for (nil: the original), which must lie within the original
// grant; the new refresh token keeps the original scope. A bad scope or
// client is refused before anything is written.
func (s *Service) RefreshGrant(ctx context.Context, refresh string, g Grant, c Client) (GrantTokens, error) {
	cl, err := s.parse(refresh, kindRefresh)
	if err != nil {
		return GrantTokens{}, err
	}
	if cl.clientID != g.ClientID {
		return GrantTokens{}, &reasonError{ErrOtherClient, "refresh token of client " + strconv.Quote(cl.clientID)}
	}
	original := g
	original.Scope = cl.scope
	if g.Scope == nil {
		g.Scope = cl.scope
	}
	for _, sc := range g.Scope {
		if !slices.Contains(cl.scope, sc) {
			return GrantTokens{}, fmt.Errorf("%w: %q", ErrScopeWidened, sc)
		}
	}
	f, u, now, err := s.rotate(ctx, cl, c)
	if err != nil {
		return GrantTokens{}, err
	}
	out := GrantTokens{Scope: g.Scope}
	if out.Refresh, err = s.signRefreshWith(f, &original); err != nil {
		return GrantTokens{}, err
	}
	if out.Access, out.ExpiresIn, err = s.signGrantAccess(&u, f.ID, f.CreatedAt, g, now); err != nil {
		return GrantTokens{}, err
	}
	return out, nil
}

// Introspection is what RFC 7662 reports of a token.
type Introspection struct {
	Active    bool
	TokenType string // "access" or "refresh"
	ClientID  string
	Scope     []string
	Subject   string
	UserID    int64 // 0: none
	Email     string
	ExpiresAt time.Time
	IssuedAt  time.Time
	Issuer    string
	Audience  []string
	JTI       string
}

// Introspect says whether a token is live: an access token not expired
// nor revoked (deny-list), a refresh token whose family is live, whose jti
// is current (or the predecessor within grace) and whose user may still
// refresh. Anything else — garbage, tampered, another issuer's, expired —
// is inactive; only a storage failure is an error.
func (s *Service) Introspect(ctx context.Context, token string) (Introspection, error) {
	cl, err := s.parseCached(token, kindAny)
	if err != nil {
		return Introspection{}, nil
	}
	in := Introspection{
		Active: true, TokenType: kinds[cl.kind].tokenType, ClientID: cl.clientID, Scope: cl.scope,
		Subject: cl.subject, Email: cl.email, ExpiresAt: cl.expires, IssuedAt: cl.issuedAt,
		Issuer: cl.issuer, Audience: cl.audience, JTI: cl.jti,
	}
	if cl.hasUserID {
		in.UserID = cl.userID
	}
	switch cl.kind {
	case kindAccess:
		revoked, err := s.isRevoked(ctx, cl)
		if err != nil {
			return Introspection{}, err
		}
		if revoked {
			return Introspection{}, nil
		}
		// A user's access token is inactive once its session is over
		// (logout, revocation, reuse detected, password change,
		// deactivation): RFC 7009 §2.1's "tokens based on the same grant".
		if cl.sessionID != "" {
			live, err := s.sessionLive(ctx, cl)
			if err != nil || !live {
				return Introspection{}, err
			}
		}
	case kindRefresh:
		if err := s.checkFamily(ctx, cl); err != nil {
			if errors.Is(err, ErrTokenInvalid) || errors.Is(err, ErrBlacklisted) {
				return Introspection{}, nil
			}
			return Introspection{}, err
		}
		u, err := s.users.GetUser(ctx, cl.userID)
		if errors.Is(err, storage.ErrNotFound) {
			return Introspection{}, nil
		}
		if err != nil {
			return Introspection{}, fmt.Errorf("introspect: load user: %w", err)
		}
		if !u.IsActive || u.PasswordChangedAt.Unix() > cl.authTime.Unix() {
			return Introspection{}, nil
		}
		in.Email = u.Email
	}
	return in, nil
}

// sessionLive reports whether the family an access token was issued in
// is still live (not revoked, within its absolute lifetime).
func (s *Service) sessionLive(ctx context.Context, cl *claims) (bool, error) {
	f, err := s.families.GetFamily(ctx, cl.sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("introspect: load session: %w", err)
	}
	return f.UserID == cl.userID && f.RevokedAt.IsZero() && s.now().Before(f.ExpiresAt), nil
}

// isRevoked checks the deny-list for an OAuth 2.0 access token (only those
// can be revoked: tokens of /api/token/ belong to no client).
func (s *Service) isRevoked(ctx context.Context, cl *claims) (bool, error) {
	if cl.clientID == "" || s.denied == nil {
		return false, nil
	}
	revoked, err := s.denied.IsTokenRevoked(ctx, cl.jti)
	if err != nil {
		return false, fmt.Errorf("check revoked tokens: %w", err)
	}
	return revoked, nil
}

// RevokeGrant is RFC 7009 for client clientID: a refresh token ends its
// family; an access token's jti joins the deny-list until it expires. A
// token that is invalid, expired or unknown is nothing to revoke (nil); a
// token of another client is ErrOtherClient and nothing changes.
func (s *Service) RevokeGrant(ctx context.Context, token, clientID string, c Client) error {
	cl, err := s.parse(token, kindAny)
	if err != nil {
		return nil
	}
	if cl.clientID != clientID {
		return &reasonError{ErrOtherClient, "token of client " + strconv.Quote(cl.clientID)}
	}
	now := storeTime(s.now())
	switch cl.kind {
	case kindRefresh:
		revoked, err := s.families.RevokeFamily(ctx, cl.familyID, now, "revoked by client")
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		if revoked {
			s.familyRevoked(ctx, cl.userID, cl.familyID, "revoked by client "+clientID, c)
		}
	case kindAccess:
		if s.denied == nil {
			return errors.New("revoke: no deny-list configured")
		}
		err := s.denied.RevokeToken(ctx, storage.RevokedToken{
			JTI: cl.jti, ClientID: clientID, ExpiresAt: cl.expires.Add(s.leeway), RevokedAt: now,
		})
		if err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
	}
	return nil
}

// FlushRevoked deletes deny-list entries of expired tokens, in batches.
func (s *Service) FlushRevoked(ctx context.Context, batch int) (int64, error) {
	if s.denied == nil {
		return 0, nil
	}
	return FlushRevokedTokens(ctx, s.denied, s.now(), batch)
}

// FlushRevokedTokens is FlushRevoked over a store, without a Service
// (`idp tokens flush`).
func FlushRevokedTokens(ctx context.Context, store storage.RevokedTokens, now time.Time, batch int) (int64, error) {
	var total int64
	for {
		n, err := store.DeleteExpiredRevokedTokens(ctx, now, batch)
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
	}
}

// startFamily creates the family of a new login at now. (Login builds its
// family the same way; they are kept apart while issue 10 reworks Login,
// to be folded into one when both have landed.)
func (s *Service) startFamily(ctx context.Context, u storage.User, c Client, now time.Time) (storage.Family, error) {
	key, err := s.keys.SigningKey(s.refreshAlg)
	if err != nil {
		return storage.Family{}, err
	}
	f := storage.Family{
		ID:         newFamilyID(),
		UserID:     u.ID,
		CreatedAt:  now,
		ExpiresAt:  now.Add(s.sessionTTL),
		CurrentJTI: newJTI(),
		CurrentKID: key.KID,
		RotatedAt:  now,
		UserAgent:  cleanText(c.UserAgent, maxUserAgent),
		IP:         cleanText(c.IP, 64),
	}
	if err := s.families.CreateFamily(ctx, f); err != nil {
		return storage.Family{}, fmt.Errorf("create family: %w", err)
	}
	return f, nil
}
