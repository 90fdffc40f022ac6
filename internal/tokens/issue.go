package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
)

// Claim names idp sets besides the registered ones.
const (
	claimTokenType = "token_type"
	claimEmail     = "email"
	claimFamily    = "fid"
	claimAuthTime  = "auth_time"
	claimSession   = "sid"
)

// maxUserAgent bounds the user agent stored on a family.
const maxUserAgent = 512

// Pair is an access token and its refresh token.
type Pair struct {
	Access, Refresh string
}

// Client describes who asked for tokens; it is stored on the family and
// in audit events.
type Client struct {
	IP, UserAgent string
}

// AccessClaims is what a verified access token says.
type AccessClaims struct {
	UserID int64
	// SessionID is the family (login session) the token was issued in.
	SessionID string
	Email     string
	JTI       string
	KID       string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// claimWriter appends claims to a JSON object in a fixed order, so that
// the same inputs always give the same bytes.
type claimWriter struct{ b []byte }

func (w *claimWriter) name(n string) {
	if len(w.b) == 0 {
		w.b = append(w.b, '{')
	} else {
		w.b = append(w.b, ',')
	}
	w.b = appendString(w.b, n)
	w.b = append(w.b, ':')
}

func (w *claimWriter) str(n, v string) { w.name(n); w.b = appendString(w.b, v) }

func (w *claimWriter) int(n string, v int64) { w.name(n); w.b = strconv.AppendInt(w.b, v, 10) }

func (w *claimWriter) aud(v []string) {
	switch len(v) {
	case 0:
	case 1:
		w.str("aud", v[0])
	default:
		w.name("aud")
		for i, a := range v {
			if i == 0 {
				w.b = append(w.b, '[')
			} else {
				w.b = append(w.b, ',')
			}
			w.b = appendString(w.b, a)
		}
		w.b = append(w.b, ']')
	}
}

func (w *claimWriter) bytes() []byte { return append(w.b, '}') }

// appendString appends s as a JSON string, as json.Marshal writes it
// (HTML characters escaped too); printable ASCII that needs no escape —
// every claim idp writes but a user's name or email — is copied as is.
func appendString(b []byte, s string) []byte {
	if needsNoEscape(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// needsNoEscape: json.Marshal writes s between quotes unchanged.
func needsNoEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// signAccess makes an access token for u in session sid, issued at now.
func (s *Service) signAccess(u storage.User, sid string, now time.Time) (string, AccessClaims, error) {
	key, err := s.keys.SigningKey(s.accessAlg)
	if err != nil {
		return "", AccessClaims{}, fmt.Errorf("access token: %w", err)
	}
	iat := now.Truncate(time.Second) // never in the future
	ac := AccessClaims{
		UserID:    u.ID,
		SessionID: sid,
		Email:     u.Email,
		JTI:       newJTI(),
		KID:       key.KID,
		IssuedAt:  iat,
		ExpiresAt: iat.Add(s.accessTTL),
	}
	// SimpleJWT's claim order first, then the standard ones.
	var w claimWriter
	w.str(claimTokenType, "access")
	w.int("exp", ac.ExpiresAt.Unix())
	w.int("iat", ac.IssuedAt.Unix())
	w.str("jti", ac.JTI)
	w.int(s.userIDClaim, u.ID)
	w.str("iss", s.issuer)
	w.str("sub", strconv.FormatInt(u.ID, 10))
	w.aud(s.audience)
	w.str(claimEmail, u.Email)
	w.str(claimSession, sid)
	tok, err := sign(key, kinds[kindAccess].typ, w.bytes())
	if err != nil {
		return "", AccessClaims{}, fmt.Errorf("access token: %w", err)
	}
	return tok, ac, nil
}

// signRefresh makes the current refresh token of family f. It is a pure
// function of the family row and the configuration (PKCS#1 v1.5 and
// Ed25519 signatures are deterministic), so the same row always gives the
// same bytes: the grace answer re-signs the token the winner received.
func (s *Service) signRefresh(f storage.Family) (string, error) {
	return s.signRefreshWith(f, nil)
}

// signRefreshWith is signRefresh for a family started by an OAuth 2.0
// grant g (nil: /api/token/): the token also carries the client and the
// granted scope, which never change over the family's life, so the token
// is still a pure function of the row and g.
func (s *Service) signRefreshWith(f storage.Family, g *Grant) (string, error) {
	key, err := s.keys.VerificationKey(f.CurrentKID)
	if err != nil {
		return "", fmt.Errorf("refresh token: key %s: %w", f.CurrentKID, err)
	}
	if key.Signer() == nil {
		return "", fmt.Errorf("refresh token: key %s has no private key", f.CurrentKID)
	}
	ttl := s.refreshTTL
	if g != nil {
		ttl = shorter(g.RefreshTTL, s.refreshTTL)
	}
	exp := f.RotatedAt.Add(ttl)
	if f.ExpiresAt.Before(exp) {
		exp = f.ExpiresAt
	}
	var w claimWriter
	w.str(claimTokenType, "refresh")
	w.int("exp", exp.Unix())
	w.int("iat", f.RotatedAt.Unix())
	w.str("jti", f.CurrentJTI)
	w.int(s.userIDClaim, f.UserID)
	w.str("iss", s.issuer)
	w.str("sub", strconv.FormatInt(f.UserID, 10))
	w.str("aud", s.issuer)
	w.str(claimFamily, f.ID)
	w.int(claimAuthTime, f.CreatedAt.Unix())
	if g != nil {
		w.str(claimClientID, g.ClientID)
		w.str(claimScope, strings.Join(g.Scope, " "))
	}
	tok, err := sign(key, kinds[kindRefresh].typ, w.bytes())
	if err != nil {
		return "", fmt.Errorf("refresh token: %w", err)
	}
	return tok, nil
}

// sign makes a compact JWS of payload with header {"alg","kid","typ"}
// (RFC 7515 §7.1): the protected header is rendered by jwx once per key
// and type (headers), the signature made by jwx's signer for the key's
// algorithm over the key's crypto.Signer — the bytes jws.Sign produces,
// without its per-call header map, JSON encoding and copies (a test
// compares the two).
func sign(key *signer.Key, typ string, payload []byte) (string, error) {
	if key.Signer() == nil {
		return "", fmt.Errorf("key %s has no private key", key.KID)
	}
	h, err := headers.get(key, typ)
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", key.KID, err)
	}
	enc := base64.RawURLEncoding
	n := len(h.b64) + 1 + enc.EncodedLen(len(payload))
	// One buffer: the signing input, then '.' and the signature (at most
	// 4096-bit RSA: 512 bytes, 683 encoded).
	buf := make([]byte, n, n+1+enc.EncodedLen(512))
	copy(buf, h.b64)
	buf[len(h.b64)] = '.'
	enc.Encode(buf[len(h.b64)+1:], payload)
	sig, err := h.signer.Sign(buf, key.Signer())
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", key.KID, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// headers is the process's rendered protected headers.
var headers headerCache

// headerCache holds each key's rendered protected header per token type.
// Keys are few (a ring's active, next and retired ones) and immutable
// under their kid; the cache is emptied when it outgrows maxHeaders.
type headerCache struct {
	mu sync.RWMutex
	m  map[headerKey]*renderedHeader
}

const maxHeaders = 64

type headerKey struct{ kid, typ, alg string }

type renderedHeader struct {
	b64    string // base64url of the header JSON
	signer jws.Signer
}

func (c *headerCache) get(key *signer.Key, typ string) (*renderedHeader, error) {
	k := headerKey{key.KID, typ, key.Alg.String()}
	c.mu.RLock()
	h := c.m[k]
	c.mu.RUnlock()
	if h != nil {
		return h, nil
	}
	hdr := jws.NewHeaders()
	for _, kv := range []struct {
		name  string
		value any
	}{{jws.AlgorithmKey, key.Alg}, {jws.KeyIDKey, key.KID}, {jws.TypeKey, typ}} {
		if err := hdr.Set(kv.name, kv.value); err != nil {
			return nil, err
		}
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	sg, err := jws.NewSigner(key.Alg)
	if err != nil {
		return nil, err
	}
	h = &renderedHeader{b64: base64.RawURLEncoding.EncodeToString(js), signer: sg}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxHeaders {
		c.m = map[headerKey]*renderedHeader{}
	}
	c.m[k] = h
	c.mu.Unlock()
	return h, nil
}

// newJTI is a random UUIDv4 as 32 lowercase hex characters, like
// SimpleJWT's uuid4().hex.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// newFamilyID is 128 random bits in hex.
func newFamilyID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// storeTime is t as stored: truncated to microseconds, which both stores
// keep exactly, so a row read back signs the same token as the row written.
func storeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// cleanText makes client-supplied text storable: valid UTF-8, no NUL, at
// most max bytes.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
