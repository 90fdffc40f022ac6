package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/idp/idp/internal/signer"
)

// maxTokenSize bounds what is parsed at all; idp's tokens are well under 2 KiB.
const maxTokenSize = 8 << 10

// kind is a token's type: the header typ and the token_type claim together.
type kind int

const (
	kindAny kind = iota
	kindAccess
	kindRefresh
)

var kinds = map[kind]struct{ typ, tokenType string }{
	kindAccess:  {"at+jwt", "access"},
	kindRefresh: {"rt+jwt", "refresh"},
}

// claims is what idp reads from a verified token.
type claims struct {
	kind      kind
	kid       string
	issuer    string
	subject   string
	audience  []string
	expires   time.Time
	issuedAt  time.Time
	notBefore time.Time // zero without nbf
	jti       string
	email     string
	sessionID string
	familyID  string
	authTime  time.Time
	userID    int64
	hasUserID bool // the user id claim is present and a JSON integer
	// clientID and scope are set on tokens issued at /oauth2/token (RFC
	// 9068 client_id, scope split on spaces).
	clientID string
	scope    []string
}

// parse verifies token and reads its claims. want is the kind required
// (kindAny accepts both). Errors are ErrTokenInvalid or ErrWrongType.
func (s *Service) parse(token string, want kind) (*claims, error) {
	if err := checkCompact(token); err != nil {
		return nil, err
	}
	payload, kp, err := verifySignature(s.keys, token)
	if err != nil {
		return nil, err
	}

	raw, err := strictObject(payload)
	if err != nil {
		return nil, invalid("payload: " + err.Error())
	}
	c := &claims{kid: kp.kid}
	var ok bool

	// Time first: an expired token is "invalid or expired", whatever its type.
	now := s.now()
	exp, okExp := numericDate(raw["exp"])
	if !okExp {
		return nil, invalid("no exp")
	}
	if !now.Before(exp.Add(s.leeway)) {
		return nil, invalid("expired")
	}
	c.expires = exp
	iat, okIat := numericDate(raw["iat"])
	if !okIat {
		return nil, invalid("no iat")
	}
	if iat.After(now.Add(s.leeway)) {
		return nil, invalid("iat in the future")
	}
	c.issuedAt = iat
	if v, present := raw["nbf"]; present {
		nbf, ok := numericDate(v)
		if !ok || nbf.After(now.Add(s.leeway)) {
			return nil, invalid("nbf")
		}
		c.notBefore = nbf
	}

	if c.issuer, ok = str(raw["iss"]); !ok || c.issuer != s.issuer {
		return nil, invalid("iss")
	}

	tokenType, _ := str(raw[claimTokenType])
	for k, names := range kinds {
		if kp.typ == names.typ && tokenType == names.tokenType {
			c.kind = k
		}
	}
	if c.kind == kindAny {
		return nil, invalid("typ and token_type")
	}
	// Keys are bound to token types: an access token verifies only with a
	// key of the access ring, a refresh token only with one of the
	// refresh ring (rings are per algorithm; config keeps them distinct),
	// so a key of one ring, stolen, forges nothing of the other type.
	if ring := s.ringAlg(c.kind); string(kp.alg) != ring {
		return nil, invalid(kinds[c.kind].tokenType + " token signed with a " + string(kp.alg) + " key, not of its " + ring + " ring")
	}
	if want != kindAny && c.kind != want {
		return nil, &reasonError{ErrWrongType, kinds[c.kind].tokenType + " token"}
	}

	if c.audience, ok = audience(raw["aud"]); !ok {
		return nil, invalid("aud")
	}
	if err := c.grantClaims(raw); err != nil {
		return nil, err
	}
	wantAud := s.audience
	if c.kind == kindRefresh {
		wantAud = []string{s.issuer}
	}
	switch {
	case c.kind == kindAccess && c.clientID != "":
		// An OAuth 2.0 access token names its own audience (RFC 8707).
		if len(c.audience) == 0 {
			return nil, invalid("aud")
		}
	case !sameSet(c.audience, wantAud):
		return nil, invalid("aud")
	}

	if c.jti, ok = str(raw["jti"]); !ok || c.jti == "" {
		return nil, invalid("no jti")
	}
	if c.subject, ok = str(raw["sub"]); !ok && raw["sub"] != nil {
		return nil, invalid("sub")
	}
	if v, present := raw[s.userIDClaim]; present {
		c.userID, c.hasUserID = integer(v)
	}
	if c.hasUserID && c.subject != "" && c.subject != strconv.FormatInt(c.userID, 10) {
		return nil, invalid("sub and user id differ")
	}
	if c.email, ok = str(raw[claimEmail]); !ok && raw[claimEmail] != nil {
		return nil, invalid("email")
	}
	if c.sessionID, ok = str(raw[claimSession]); !ok && raw[claimSession] != nil {
		return nil, invalid("sid")
	}

	if c.kind == kindRefresh {
		if c.familyID, ok = str(raw[claimFamily]); !ok || c.familyID == "" {
			return nil, invalid("no fid")
		}
		if c.authTime, ok = numericDate(raw[claimAuthTime]); !ok {
			return nil, invalid("no auth_time")
		}
		if !c.hasUserID {
			return nil, invalid("refresh token without user id")
		}
	}
	return c, nil
}

// ringAlg is the algorithm of the key ring that signs tokens of kind k.
func (s *Service) ringAlg(k kind) string {
	if k == kindRefresh {
		return s.refreshAlg
	}
	return s.accessAlg
}

// checkCompact accepts only the canonical compact serialization: three
// non-empty unpadded base64url segments without stray bits. jwx decodes
// leniently (padding, the standard alphabet, JSON serialization), which
// would let other byte strings verify as the same token.
func checkCompact(token string) error {
	if len(token) > maxTokenSize {
		return invalid("too large")
	}
	seg, segLen := 0, 0
	for i := 0; i <= len(token); i++ {
		if i == len(token) || token[i] == '.' {
			if !canonicalSegment(token[i-segLen : i]) {
				return invalid("malformed")
			}
			seg++
			segLen = 0
			continue
		}
		segLen++
	}
	if seg != 3 {
		return invalid("malformed")
	}
	return nil
}

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var b64Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(b64url) {
		t[b64url[i]] = int8(i)
	}
	return t
}()

// canonicalSegment reports whether seg is what base64.RawURLEncoding
// would produce for some bytes.
func canonicalSegment(seg string) bool {
	if seg == "" || len(seg)%4 == 1 {
		return false
	}
	for i := range len(seg) {
		if b64Value[seg[i]] < 0 {
			return false
		}
	}
	last := b64Value[seg[len(seg)-1]]
	switch len(seg) % 4 {
	case 2: // one byte: the last char carries 2 bits of it and 4 zero bits
		return last&0x0f == 0
	case 3: // two bytes: 4 bits and 2 zero bits
		return last&0x03 == 0
	}
	return true
}

// signed is what verifySignature learnt from a token's header and key.
type signed struct {
	kid string
	typ string
	alg jwa.SignatureAlgorithm // the key's
}

// verifySignature verifies a compact token (checkCompact first) and
// returns its payload. The protected header is decoded strictly (see
// checkHeader); the key is the one its kid names, and verification uses
// the KEY's algorithm — the header's alg must equal it (RFC 8725 §3.1) —
// through jwx's verifier for that algorithm. Errors are ErrTokenInvalid
// with the reason.
func verifySignature(keys KeySource, token string) ([]byte, signed, error) {
	h, err := checkHeader(token)
	if err != nil {
		return nil, signed{}, err
	}
	kid, ok := str(h[jws.KeyIDKey])
	if !ok || kid == "" {
		return nil, signed{}, invalid("no kid")
	}
	key, err := keys.VerificationKey(kid)
	if err != nil {
		return nil, signed{}, invalid("unknown kid")
	}
	if alg, ok := str(h[jws.AlgorithmKey]); !ok || alg != string(key.Alg) || !allowedAlg(key.Alg) {
		return nil, signed{}, invalid("alg does not match the key")
	}
	typ, ok := str(h[jws.TypeKey])
	if !ok && h[jws.TypeKey] != nil {
		return nil, signed{}, invalid("typ")
	}
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		return nil, signed{}, invalid("malformed")
	}
	if verifiers[key.Alg].Verify([]byte(token[:dot]), sig, key.PublicKey()) != nil {
		return nil, signed{}, invalid("signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(token[strings.IndexByte(token, '.')+1 : dot])
	if err != nil {
		return nil, signed{}, invalid("malformed")
	}
	return payload, signed{kid: kid, typ: typ, alg: key.Alg}, nil
}

// verifiers are jwx's, one per algorithm idp accepts (stateless).
var verifiers = func() map[jwa.SignatureAlgorithm]jws.Verifier {
	m := map[jwa.SignatureAlgorithm]jws.Verifier{}
	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256, jwa.EdDSA, jwa.ES256} {
		v, err := jws.NewVerifier(alg)
		if err != nil {
			panic(err) // jwx supports all three
		}
		m[alg] = v
	}
	return m
}()

// allowedAlg: only the asymmetric algorithms idp signs with.
func allowedAlg(a jwa.SignatureAlgorithm) bool {
	return a == jwa.RS256 || a == jwa.EdDSA || a == jwa.ES256
}

// str reads a JSON string.
func str(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	if plainString(v) {
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// plainString: v is a JSON string of printable ASCII without escapes, so
// its content is its bytes (what json.Unmarshal would make of it).
func plainString(v []byte) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for _, c := range v[1 : len(v)-1] {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// integer reads a JSON integer (no fraction, no exponent) that fits int64.
func integer(v json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	return n, err == nil
}

// numericDate reads a JSON number of seconds since the epoch (RFC 7519
// NumericDate; a fraction is allowed and truncated).
func numericDate(v json.RawMessage) (time.Time, bool) {
	// A valid JSON value that ParseFloat reads is a JSON number: what
	// json.Number.Float64 would parse, without decoding into one.
	if len(v) == 0 || v[0] == '"' || !json.Valid(v) {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
	if err != nil || f < 0 || f > math.MaxInt32*4 || math.IsNaN(f) {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// audience reads aud: absent, a string or an array of strings.
func audience(v json.RawMessage) ([]string, bool) {
	if len(v) == 0 {
		return nil, true
	}
	if s, ok := str(v); ok {
		return []string{s}, true
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, false
	}
	return list, true
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var _ KeySource = (*signer.Signer)(nil)
