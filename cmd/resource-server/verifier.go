package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"golang.org/x/sync/singleflight"
)

// Why Verify refused a token. Test with errors.Is; the *Error that Verify
// returns says more (the kid and a detail for the log).
var (
	ErrMalformed   = errors.New("malformed token")
	ErrUnknownKey  = errors.New("no published key for the token's kid")
	ErrAlgorithm   = errors.New("algorithm not acceptable")
	ErrSignature   = errors.New("bad signature")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not valid yet")
	ErrIssuer      = errors.New("wrong issuer")
	ErrAudience    = errors.New("wrong audience")
	ErrNoType      = errors.New("token has no type")
	ErrWrongType   = errors.New("not an access token")
	// ErrNoKeys: no JWKS has been loaded yet (idp unreachable since start).
	// Not the token's fault: the server answers 503.
	ErrNoKeys = errors.New("no signing keys loaded yet")
)

// Error is what Verify returns for a refused token.
type Error struct {
	Reason error  // one of the Err… values above
	KID    string // the token's kid, if it could be read (untrusted: log it quoted)
	Detail string // what exactly, for the log; never contains the token
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Reason }

// Limits on untrusted input and on what idp may send back.
const (
	maxTokenSize    = 8 << 10
	maxDocumentSize = 1 << 20 // discovery document, JWKS
	fetchTimeout    = 10 * time.Second
)

// signingAlgs are the asymmetric JWS algorithms a key may name. HS* (a
// shared secret cannot come from a public JWKS) and none are not here.
var signingAlgs = map[jwa.SignatureAlgorithm]bool{
	jwa.RS256: true, jwa.RS384: true, jwa.RS512: true,
	jwa.PS256: true, jwa.PS384: true, jwa.PS512: true,
	jwa.ES256: true, jwa.ES384: true, jwa.ES512: true,
	jwa.EdDSA: true,
}

// Config says whom to trust. Only Issuer is required.
type Config struct {
	// Issuer is idp's issuer URL: tokens' iss must equal it, and unless
	// JWKSURL is set the JWKS location is read from its discovery document.
	Issuer string
	// JWKSURL skips discovery.
	JWKSURL string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
	// MinRefetchInterval rate-limits JWKS fetches caused by tokens whose
	// kid is unknown (one per interval, globally), and is the shortest
	// time between scheduled refreshes whatever max-age says.
	MinRefetchInterval time.Duration
	HTTPClient         *http.Client     // nil: a client with a 10 s timeout
	Logger             *slog.Logger     // nil: discard
	Now                func() time.Time // nil: time.Now
}

// Verifier checks idp's access tokens with nothing but idp's public keys.
//
// Keys come from the JWKS: a jwk.Cache refreshes it in the background as
// the response's Cache-Control max-age says; a token with a kid the cached
// set lacks triggers one immediate refetch (rate-limited globally), so a
// key the cache has not seen yet is picked up at once while garbage kids
// cannot make the verifier hammer idp. When idp is unreachable, the keys
// already fetched keep working.
type Verifier struct {
	cfg Config
	log *slog.Logger

	jwksURL atomic.Pointer[string]  // set once discovery succeeded
	keys    atomic.Pointer[jwk.Set] // the latest JWKS fetched, nil before the first
	ready   chan struct{}           // closed when keys are first set
	once    sync.Once

	refetch     singleflight.Group // concurrent unknown-kid refetches share one fetch
	mu          sync.Mutex
	lastRefetch time.Time // guarded by mu
}

// NewVerifier checks cfg and fills in defaults. It does no I/O: call Run.
func NewVerifier(cfg Config) (*Verifier, error) {
	if err := checkURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if cfg.JWKSURL != "" {
		if err := checkURL(cfg.JWKSURL); err != nil {
			return nil, fmt.Errorf("jwks url: %w", err)
		}
	}
	if cfg.Leeway < 0 || cfg.MinRefetchInterval < 0 {
		return nil, errors.New("leeway and min refetch interval must not be negative")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}
	if cfg.JWKSURL != "" {
		v.jwksURL.Store(&cfg.JWKSURL)
	}
	return v, nil
}

// Ready is closed once a JWKS has been loaded.
func (v *Verifier) Ready() <-chan struct{} { return v.ready }

// Run loads the keys and keeps them fresh until ctx ends. If idp cannot be
// reached it keeps retrying (discovery every MinRefetchInterval; the JWKS
// through the cache's schedule), and Verify answers ErrNoKeys meanwhile.
func (v *Verifier) Run(ctx context.Context) error {
	u, err := v.discoverUntilDone(ctx)
	if err != nil {
		return nil // ctx ended
	}
	cache := jwk.NewCache(ctx,
		// Look at the schedule every second (httprc's default is 15 min,
		// which would delay every refresh by up to that much).
		jwk.WithRefreshWindow(time.Second),
		jwk.WithErrSink(httprcErrSink(func(err error) {
			v.log.Warn("jwks refresh failed; keeping the keys we have", "err", err)
		})),
	)
	err = cache.Register(u,
		jwk.WithHTTPClient(limitedClient{v.cfg.HTTPClient}),
		// max-age decides, but never more often than this.
		jwk.WithMinRefreshInterval(max(v.cfg.MinRefetchInterval, time.Second)),
		jwk.WithIgnoreParseError(true), // a key of an unknown type must not hide the others
		jwk.WithPostFetcher(jwk.PostFetchFunc(func(_ string, set jwk.Set) (jwk.Set, error) {
			v.setKeys(set, "scheduled")
			return set, nil
		})),
	)
	if err != nil {
		return fmt.Errorf("register jwks url: %w", err)
	}
	// The first fetch. If it fails, the cache retries on its own schedule.
	if _, err := cache.Get(ctx, u); err != nil {
		v.log.Warn("first jwks fetch failed; retrying in the background", "url", u, "err", err)
	}
	<-ctx.Done()
	return nil
}

type httprcErrSink func(error)

func (f httprcErrSink) Error(err error) { f(err) }

// discoverUntilDone returns the JWKS URL, reading discovery until it works.
func (v *Verifier) discoverUntilDone(ctx context.Context) (string, error) {
	for {
		if u := v.jwksURL.Load(); u != nil {
			return *u, nil
		}
		u, err := discover(ctx, v.cfg.HTTPClient, v.cfg.Issuer)
		if err == nil {
			v.log.Info("discovered jwks_uri", "issuer", v.cfg.Issuer, "jwks_uri", u)
			v.jwksURL.Store(&u)
			return u, nil
		}
		wait := max(v.cfg.MinRefetchInterval, 100*time.Millisecond)
		v.log.Warn("discovery failed; retrying", "issuer", v.cfg.Issuer, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(wait):
		}
	}
}

// discover reads jwks_uri from the issuer's discovery document, which must
// name the same issuer (RFC 8414 §3.3).
func discover(ctx context.Context, hc *http.Client, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := get(ctx, hc, u)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery document %s: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery document %s names issuer %q, want %q", u, doc.Issuer, issuer)
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery document %s: jwks_uri: %w", u, err)
	}
	return doc.JWKSURI, nil
}

// fetchNow fetches the JWKS outside the cache's schedule. (Not
// jwk.Cache.Refresh: in httprc v1 every Refresh adds another periodic
// refresh chain that never ends, so refetches would multiply the
// scheduled load on idp. Whichever fetch finished last provides the keys.)
func (v *Verifier) fetchNow(ctx context.Context) error {
	u := v.jwksURL.Load()
	if u == nil {
		return errors.New("jwks url not known yet")
	}
	body, err := get(ctx, v.cfg.HTTPClient, *u)
	if err != nil {
		return err
	}
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return fmt.Errorf("parse jwks %s: %w", *u, err)
	}
	v.setKeys(set, "unknown kid")
	return nil
}

func (v *Verifier) setKeys(set jwk.Set, trigger string) {
	v.keys.Store(&set)
	v.once.Do(func() { close(v.ready) })
	kids := make([]string, 0, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		kids = append(kids, k.KeyID())
	}
	v.log.Info("jwks fetched", "trigger", trigger, "keys", set.Len(), "kids", kids)
}

// refetchOnce fetches the JWKS now unless a refetch started less than
// MinRefetchInterval ago; callers arriving while one is in flight wait
// for it.
func (v *Verifier) refetchOnce(ctx context.Context) {
	_, _, _ = v.refetch.Do("jwks", func() (any, error) {
		v.mu.Lock()
		now := v.cfg.Now()
		if !v.lastRefetch.IsZero() && now.Sub(v.lastRefetch) < v.cfg.MinRefetchInterval {
			v.mu.Unlock()
			return nil, errRateLimited
		}
		v.lastRefetch = now
		v.mu.Unlock()
		// Not the request's context: others may be waiting on this fetch.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		if err := v.fetchNow(fctx); err != nil {
			v.log.Warn("jwks refetch failed; keeping the keys we have", "err", err)
			return nil, err
		}
		return nil, nil
	})
}

var errRateLimited = errors.New("refetch rate-limited")

// key finds the key for kid, refetching the JWKS once if it is unknown.
func (v *Verifier) key(ctx context.Context, kid string) (jwk.Key, error) {
	if set := v.keys.Load(); set != nil {
		if k, ok := (*set).LookupKeyID(kid); ok {
			return k, nil
		}
	}
	v.refetchOnce(ctx)
	set := v.keys.Load()
	if set == nil {
		return nil, ErrNoKeys
	}
	if k, ok := (*set).LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// Verify checks token (RFC 8725) and returns its claims. Order: form,
// key and algorithm, signature, then exp/nbf/iat, iss, type, aud. Numbers
// in the claims are json.Number, so integers come back exactly.
func (v *Verifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	// Compact serialization only, bounded: jws would also take JSON.
	if len(token) > maxTokenSize || strings.Count(token, ".") != 2 {
		return nil, &Error{Reason: ErrMalformed, Detail: "not a compact JWS of acceptable size"}
	}

	// The key provider sees the protected header, picks the key by kid and
	// takes the algorithm from the key, never from the token.
	var kid, typ string
	var parsed bool // the provider ran: the token parsed as a JWS
	var refused *Error
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		parsed = true
		h := sig.ProtectedHeaders()
		kid, typ = short(h.KeyID()), h.Type()
		refuse := func(reason error, detail string) error {
			refused = &Error{Reason: reason, KID: kid, Detail: detail}
			return refused
		}
		if len(h.Critical()) > 0 {
			return refuse(ErrMalformed, "crit header not supported")
		}
		if kid == "" {
			return refuse(ErrUnknownKey, "no kid")
		}
		key, err := v.key(ctx, h.KeyID())
		if err != nil {
			return refuse(err, "")
		}
		alg := jwa.SignatureAlgorithm(key.Algorithm().String())
		switch {
		case key.KeyUsage() != "" && key.KeyUsage() != string(jwk.ForSignature):
			return refuse(ErrAlgorithm, "the published key is not for signatures")
		case alg == "":
			return refuse(ErrAlgorithm, "the published key has no alg")
		case !signingAlgs[alg]:
			return refuse(ErrAlgorithm, fmt.Sprintf("the published key's alg %q is not an asymmetric signature algorithm", alg))
		case h.Algorithm() != alg:
			return refuse(ErrAlgorithm, fmt.Sprintf("header alg %q, key alg %q", short(h.Algorithm().String()), alg))
		}
		sink.Key(alg, key)
		return nil
	})
	payload, err := jws.Verify([]byte(token), jws.WithKeyProvider(provider), jws.WithContext(ctx), jws.WithCompact())
	switch {
	case refused != nil:
		return nil, refused
	case err != nil && !parsed:
		return nil, &Error{Reason: ErrMalformed, Detail: "not a JWS"}
	case err != nil:
		return nil, &Error{Reason: ErrSignature, KID: kid}
	}
	claims, cerr := v.checkClaims(payload, typ)
	if cerr != nil {
		cerr.KID = kid
		return nil, cerr
	}
	return claims, nil
}

// checkClaims validates a verified payload; typ is the (signed) header typ.
func (v *Verifier) checkClaims(payload []byte, typ string) (map[string]any, *Error) {
	fail := func(reason error, detail string) (map[string]any, *Error) {
		return nil, &Error{Reason: reason, Detail: detail}
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return fail(ErrMalformed, "payload is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(ErrMalformed, "payload is not one JSON object")
	}

	now := v.cfg.Now()
	exp, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return fail(ErrMalformed, err.Error())
	case exp.IsZero():
		return fail(ErrExpired, "no exp")
	case !now.Before(exp.Add(v.cfg.Leeway)):
		return fail(ErrExpired, "exp "+exp.UTC().Format(time.RFC3339))
	}
	for _, name := range []string{"nbf", "iat"} {
		t, err := numericDate(claims, name)
		if err != nil {
			return fail(ErrMalformed, err.Error())
		}
		if t.After(now.Add(v.cfg.Leeway)) {
			return fail(ErrNotYetValid, name+" "+t.UTC().Format(time.RFC3339)+" is in the future")
		}
	}

	if iss, _ := claims["iss"].(string); iss != v.cfg.Issuer {
		return fail(ErrIssuer, fmt.Sprintf("iss %q", short(iss)))
	}

	// An access token (RFC 9068 §4) whose token_type says so too; idp's
	// refresh tokens are rt+jwt / "refresh".
	tokenType, present := claims["token_type"].(string)
	switch {
	case !present:
		return fail(ErrNoType, "no token_type claim")
	case tokenType != "access":
		return fail(ErrWrongType, fmt.Sprintf("token_type %q", short(tokenType)))
	case !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt"):
		return fail(ErrWrongType, fmt.Sprintf("typ %q", short(typ)))
	}

	if v.cfg.Audience != "" && !hasAudience(claims["aud"], v.cfg.Audience) {
		return fail(ErrAudience, "aud does not contain "+v.cfg.Audience)
	}
	return claims, nil
}

// numericDate reads an optional NumericDate claim (RFC 7519 §2); zero
// time when absent.
func numericDate(claims map[string]any, name string) (time.Time, error) {
	raw, present := claims[name]
	if !present {
		return time.Time{}, nil
	}
	n, ok := raw.(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("%s is not a number", name)
	}
	f, err := n.Float64()
	// Beyond year 5000 is nonsense, and would overflow the conversion.
	if err != nil || f < 0 || f > 1e11 || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("%s is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// hasAudience: aud is a string or an array of strings (RFC 7519 §4.1.3).
func hasAudience(aud any, want string) bool {
	switch aud := aud.(type) {
	case string:
		return aud == want
	case []any:
		for _, a := range aud {
			if s, _ := a.(string); s == want {
				return true
			}
		}
	}
	return false
}

// get fetches u and returns its body; only 200 counts.
func get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxDocumentSize {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", u, maxDocumentSize)
	}
	return body, nil
}

// limitedClient is the jwk.Cache's HTTP client: bounded bodies.
type limitedClient struct{ hc *http.Client }

func (c limitedClient) Get(u string) (*http.Response, error) {
	res, err := c.hc.Get(u)
	if err != nil {
		return nil, err
	}
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(res.Body, maxDocumentSize), res.Body}
	return res, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// short bounds an untrusted string before it reaches a log line.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
