package authorize

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/idp/idp/internal/storage"
)

var (
	// ErrUnknownRequest: no pending authorization request with that id
	// (never made, finished, or expired).
	ErrUnknownRequest = errors.New("authorize: no such pending authorization request")
	// ErrInvalidCode: the code is unknown, expired or already redeemed.
	ErrInvalidCode = errors.New("authorize: invalid authorization code")
	// ErrCodeReplayed: the code was redeemed before; what that redemption
	// issued has now been revoked.
	ErrCodeReplayed = errors.New("authorize: authorization code replayed")
)

// Store is what the service keeps.
type Store interface {
	storage.AuthorizationRequests
	storage.AuthorizationCodes
	storage.Consents
	storage.GrantLinks
	storage.Families
	storage.RevokedTokens
	storage.Audit
}

// Options configure a Service.
type Options struct {
	Store Store
	// RequestTTL (default 10m) is how long a parked request waits for the
	// login; CodeTTL (default 60s) how long a code may be redeemed.
	RequestTTL time.Duration
	CodeTTL    time.Duration
	Now        func() time.Time
}

// Service runs the flow's state.
type Service struct {
	st         Store
	requestTTL time.Duration
	codeTTL    time.Duration
	now        func() time.Time
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{st: o.Store, requestTTL: o.RequestTTL, codeTTL: o.CodeTTL, now: o.Now}
	if s.requestTTL <= 0 {
		s.requestTTL = 10 * time.Minute
	}
	if s.codeTTL <= 0 {
		s.codeTTL = time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Request is a validated authorization request.
type Request struct {
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	Scopes        []string `json:"scopes"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge,omitempty"`
	ResponseMode  string   `json:"response_mode"`
	Prompt        []string `json:"prompt,omitempty"`
	// MaxAge in seconds; -1 when not sent.
	MaxAge    int64  `json:"max_age"`
	LoginHint string `json:"login_hint,omitempty"`
	// Set by the consent page.
	Consented bool `json:"consented,omitempty"`
	Denied    bool `json:"denied,omitempty"`
	// CreatedAt is set by Park.
	CreatedAt time.Time `json:"created_at"`
}

// HasPrompt reports whether prompt p was asked for.
func (r Request) HasPrompt(p string) bool { return slices.Contains(r.Prompt, p) }

// Park stores r until the login and consent pages are done; returns its id
// (128 random bits, unguessable: it is the only handle the pages get) and
// r as stored (CreatedAt set).
func (s *Service) Park(ctx context.Context, r Request) (string, Request, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	r.CreatedAt = now
	data, err := json.Marshal(r)
	if err != nil {
		return "", r, err
	}
	id := random(16)
	if err := s.st.CreateAuthorizationRequest(ctx, storage.AuthorizationRequest{
		ID: id, ClientID: r.ClientID, Data: data, CreatedAt: now, ExpiresAt: now.Add(s.requestTTL),
	}); err != nil {
		return "", r, fmt.Errorf("park authorization request: %w", err)
	}
	return id, r, nil
}

// Pending returns the parked request, or ErrUnknownRequest.
func (s *Service) Pending(ctx context.Context, id string) (Request, error) {
	row, err := s.st.GetAuthorizationRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !s.now().Before(row.ExpiresAt)) {
		return Request{}, ErrUnknownRequest
	}
	if err != nil {
		return Request{}, err
	}
	var r Request
	if err := json.Unmarshal(row.Data, &r); err != nil {
		return Request{}, fmt.Errorf("pending authorization request: %w", err)
	}
	return r, nil
}

// Decide records the consent page's answer on the parked request.
func (s *Service) Decide(ctx context.Context, id string, allow bool) error {
	r, err := s.Pending(ctx, id)
	if err != nil {
		return err
	}
	r.Consented, r.Denied = allow, !allow
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := s.st.UpdateAuthorizationRequest(ctx, id, data); errors.Is(err, storage.ErrNotFound) {
		return ErrUnknownRequest
	} else if err != nil {
		return err
	}
	return nil
}

// Finish forgets the parked request (answered: a code or an error went back).
func (s *Service) Finish(ctx context.Context, id string) error {
	_, err := s.st.DeleteAuthorizationRequest(ctx, id)
	return err
}

// Code is what an authorization code binds.
type Code struct {
	ClientID         string    `json:"client_id"`
	RedirectURI      string    `json:"redirect_uri"`
	Scopes           []string  `json:"scopes"`
	Nonce            string    `json:"nonce,omitempty"`
	CodeChallenge    string    `json:"code_challenge,omitempty"`
	UserID           int64     `json:"user_id"`
	BrowserSessionID string    `json:"sid"`
	AuthTime         time.Time `json:"auth_time"`
}

// IssueCode stores c and returns the code: 256 random bits, base64url.
func (s *Service) IssueCode(ctx context.Context, c Code) (string, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	code := random(32)
	now := s.now()
	if err := s.st.CreateAuthorizationCode(ctx, storage.AuthorizationCode{
		Hash: hashCode(code), ClientID: c.ClientID, Data: data, CreatedAt: now, ExpiresAt: now.Add(s.codeTTL),
	}); err != nil {
		return "", fmt.Errorf("issue authorization code: %w", err)
	}
	return code, nil
}

// Redeem redeems code, once (one conditional update). A code redeemed
// before is a replay (RFC 6749 §4.1.2): the refresh family and access
// token the first redemption issued are revoked, and ErrCodeReplayed
// returned. Unknown or expired: ErrInvalidCode. The caller then checks
// the client, redirect URI and PKCE verifier against the returned Code.
func (s *Service) Redeem(ctx context.Context, code string) (Code, error) {
	if len(code) != 43 {
		return Code{}, ErrInvalidCode
	}
	h := hashCode(code)
	now := s.now()
	row, err := s.st.RedeemAuthorizationCode(ctx, h, now)
	if errors.Is(err, storage.ErrNotFound) {
		prev, gerr := s.st.GetAuthorizationCode(ctx, h)
		if gerr != nil || prev.RedeemedAt.IsZero() {
			return Code{}, ErrInvalidCode
		}
		s.revokeIssued(ctx, prev, now)
		return Code{}, ErrCodeReplayed
	}
	if err != nil {
		return Code{}, err
	}
	var c Code
	if err := json.Unmarshal(row.Data, &c); err != nil {
		return Code{}, fmt.Errorf("authorization code: %w", err)
	}
	return c, nil
}

func (s *Service) revokeIssued(ctx context.Context, prev storage.AuthorizationCode, now time.Time) {
	if prev.FamilyID != "" {
		_, _ = s.st.RevokeFamily(ctx, prev.FamilyID, now, "authorization code replayed")
	}
	if prev.AccessJTI != "" {
		_ = s.st.RevokeToken(ctx, storage.RevokedToken{JTI: prev.AccessJTI, ClientID: prev.ClientID,
			ExpiresAt: prev.AccessExpiresAt, RevokedAt: now})
	}
	_ = s.st.RecordAudit(ctx, storage.AuditEvent{At: now, Type: "oauth2.code_replayed", FamilyID: prev.FamilyID,
		Detail: "client " + prev.ClientID + ": what the first redemption issued is revoked"})
}

// Issued records what the redemption of code issued (for a replay).
func (s *Service) Issued(ctx context.Context, code, familyID, accessJTI string, accessExpiresAt time.Time) error {
	return s.st.SetAuthorizationCodeIssued(ctx, hashCode(code), familyID, accessJTI, accessExpiresAt)
}

// VerifyPKCE checks an RFC 7636 S256 code_verifier against challenge.
func VerifyPKCE(challenge, verifier string) bool {
	if !ValidVerifier(verifier) || challenge == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// ValidVerifier: 43-128 unreserved characters (RFC 7636 §4.1).
func ValidVerifier(v string) bool { return len(v) >= 43 && len(v) <= 128 && unreserved(v) }

// ValidChallenge: an S256 challenge is base64url of 32 bytes (43 chars).
func ValidChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == 32
}

func unreserved(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// Consented reports whether the user's remembered consent to the client
// covers scopes.
func (s *Service) Consented(ctx context.Context, userID int64, clientID string, scopes []string) (bool, error) {
	c, err := s.st.GetConsent(ctx, userID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// Remember stores the user's consent to scopes of the client (adding to
// what was consented before).
func (s *Service) Remember(ctx context.Context, userID int64, clientID string, scopes []string) error {
	all := slices.Clone(scopes)
	if c, err := s.st.GetConsent(ctx, userID, clientID); err == nil {
		for _, sc := range c.Scopes {
			if !slices.Contains(all, sc) {
				all = append(all, sc)
			}
		}
	}
	return s.st.PutConsent(ctx, storage.Consent{UserID: userID, ClientID: clientID, Scopes: all, GrantedAt: s.now()})
}

// Consents lists the user's remembered consents.
func (s *Service) Consents(ctx context.Context, userID int64) ([]storage.Consent, error) {
	return s.st.ListConsents(ctx, userID)
}

// WithdrawConsent forgets the consent and ends the refresh families the
// client got through the authorization code flow for the user, in one
// storage transaction. It returns how many families it ended;
// storage.ErrNotFound if there was no consent.
func (s *Service) WithdrawConsent(ctx context.Context, userID int64, clientID string) (int64, error) {
	n, err := s.st.WithdrawConsent(ctx, userID, clientID, s.now(), "consent withdrawn")
	if err != nil {
		return 0, err
	}
	_ = s.st.RecordAudit(ctx, storage.AuditEvent{At: s.now(), Type: "oauth2.consent_withdrawn", UserID: userID,
		Detail: fmt.Sprintf("client %s; %d sessions ended", clientID, n)})
	return n, nil
}

// Link records that family was issued under browser session sid.
func (s *Service) Link(ctx context.Context, l storage.GrantLink) error {
	l.CreatedAt = s.now()
	return s.st.CreateGrantLink(ctx, l)
}

// LinkOf returns the family's link (storage.ErrNotFound: not code-issued).
func (s *Service) LinkOf(ctx context.Context, familyID string) (storage.GrantLink, error) {
	return s.st.GetGrantLink(ctx, familyID)
}

// Reauthenticated carries the families of browser session from over to
// session to: the same user signed in again in the same browser (a new
// sid), so that logging out of the new session still ends them.
func (s *Service) Reauthenticated(ctx context.Context, from, to string) error {
	_, err := s.st.MoveGrantLinks(ctx, from, to)
	return err
}

// EndSession ends the refresh families issued under browser session sid
// (RP-initiated logout); returns how many it ended.
func (s *Service) EndSession(ctx context.Context, sid string) (int64, error) {
	links, err := s.st.ListGrantLinksBySession(ctx, sid)
	if err != nil {
		return 0, err
	}
	return s.revokeLinks(ctx, links, "logout")
}

func (s *Service) revokeLinks(ctx context.Context, links []storage.GrantLink, reason string) (int64, error) {
	var n int64
	for _, l := range links {
		ok, err := s.st.RevokeFamily(ctx, l.FamilyID, s.now(), reason)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// Flush deletes expired requests and codes (the janitor).
func (s *Service) Flush(ctx context.Context, batch int) (int64, error) {
	now := s.now()
	a, err := s.st.DeleteExpiredAuthorizationRequests(ctx, now, batch)
	if err != nil {
		return a, err
	}
	// Keep redeemed codes a while past expiry so that a late replay is
	// still recognised and revokes: 10 minutes.
	b, err := s.st.DeleteExpiredAuthorizationCodes(ctx, now.Add(-10*time.Minute), batch)
	return a + b, err
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}
