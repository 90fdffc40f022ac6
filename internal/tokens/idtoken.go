package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// OpenID Connect ID tokens (OIDC Core §2), always RS256 — the algorithm
// every relying party must support — with the kid in the header and typ
// "JWT". They carry no token_type, so no idp endpoint takes one for an
// access or refresh token.

const idTokenTyp = "JWT"

// IDToken is what an ID token says.
type IDToken struct {
	ClientID string
	UserID   int64
	// AuthTime is when the user authenticated; SessionID the browser
	// session (OIDC sid).
	AuthTime  time.Time
	SessionID string
	Nonce     string
	// AccessToken, when set, gives at_hash.
	AccessToken string
	// Claims by scope: Email with "email", Name with "profile".
	Email         string
	EmailVerified bool
	Name          string
	Scopes        []string
	TTL           time.Duration
}

// SignIDToken signs t with the active RS256 key.
func (s *Service) SignIDToken(t IDToken) (string, error) {
	key, err := s.keys.SigningKey(string(jwa.RS256))
	if err != nil {
		return "", fmt.Errorf("id token: %w", err)
	}
	ttl := t.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	iat := s.now().Truncate(time.Second)
	var w claimWriter
	w.str("iss", s.issuer)
	w.str("sub", strconv.FormatInt(t.UserID, 10))
	w.str("aud", t.ClientID)
	w.int("exp", iat.Add(ttl).Unix())
	w.int("iat", iat.Unix())
	w.int("auth_time", t.AuthTime.Unix())
	if t.Nonce != "" {
		w.str("nonce", t.Nonce)
	}
	if t.AccessToken != "" {
		sum := sha256.Sum256([]byte(t.AccessToken))
		w.str("at_hash", base64.RawURLEncoding.EncodeToString(sum[:16]))
	}
	if t.SessionID != "" {
		w.str("sid", t.SessionID)
	}
	// azp (OIDC Core §2): the party the token was issued to. With a single
	// audience equal to the client it is optional; idp always sends one
	// audience, so azp is the same value, sent for RPs that look for it.
	w.str("azp", t.ClientID)
	if slices.Contains(t.Scopes, "email") && t.Email != "" {
		w.str("email", t.Email)
		w.name("email_verified")
		if t.EmailVerified {
			w.b = append(w.b, "true"...)
		} else {
			w.b = append(w.b, "false"...)
		}
	}
	if slices.Contains(t.Scopes, "profile") && t.Name != "" {
		w.str("name", t.Name)
	}
	return sign(key, idTokenTyp, w.bytes())
}

// IDTokenHint is what an id_token_hint (RP-initiated logout) names.
type IDTokenHint struct {
	ClientID  string
	UserID    int64
	SessionID string
}

// ErrBadIDTokenHint: not an ID token idp signed.
var ErrBadIDTokenHint = errors.New("not an ID token issued by this provider")

// VerifyIDTokenHint checks that token is an ID token idp signed (an
// expired one is accepted, as OIDC RP-Initiated Logout §2 allows) and
// returns whom it names.
func (s *Service) VerifyIDTokenHint(token string) (IDTokenHint, error) {
	if err := checkCompact(token); err != nil {
		return IDTokenHint{}, ErrBadIDTokenHint
	}
	payload, kp, err := verifySignature(s.keys, token)
	if err != nil || kp.typ != idTokenTyp {
		return IDTokenHint{}, ErrBadIDTokenHint
	}
	var c struct {
		Iss       string          `json:"iss"`
		Sub       string          `json:"sub"`
		Aud       json.RawMessage `json:"aud"`
		Sid       string          `json:"sid"`
		TokenType *string         `json:"token_type"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss != s.issuer || c.TokenType != nil {
		return IDTokenHint{}, ErrBadIDTokenHint
	}
	aud, ok := audience(c.Aud)
	uid, err := strconv.ParseInt(c.Sub, 10, 64)
	if !ok || len(aud) != 1 || err != nil {
		return IDTokenHint{}, ErrBadIDTokenHint
	}
	return IDTokenHint{ClientID: aud[0], UserID: uid, SessionID: c.Sid}, nil
}
