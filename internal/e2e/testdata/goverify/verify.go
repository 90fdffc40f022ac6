package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Verifier checks idp access tokens offline with the public keys of idp's JWKS.
type Verifier struct {
	issuer string
	alg    jwa.SignatureAlgorithm
	keys   jwk.Set
}

// NewVerifier fetches idp's JWKS and keeps it fresh in the background,
// refetched as its Cache-Control max-age (idp's jwks.max_age) says, until
// ctx ends. alg is idp's keys.access_algorithm, e.g. jwa.RS256.
func NewVerifier(ctx context.Context, issuer string, alg jwa.SignatureAlgorithm) (*Verifier, error) {
	jwksURL := issuer + "/.well-known/jwks.json"
	// The cache looks for due refreshes every second (default: 15 minutes).
	cache := jwk.NewCache(ctx, jwk.WithRefreshWindow(time.Second))
	if err := cache.Register(jwksURL, jwk.WithMinRefreshInterval(time.Second)); err != nil {
		return nil, err
	}
	if _, err := cache.Refresh(ctx, jwksURL); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", jwksURL, err)
	}
	return &Verifier{issuer: issuer, alg: alg, keys: jwk.NewCachedSet(cache, jwksURL)}, nil
}

// Verify returns the claims of a valid idp access token.
func (v *Verifier) Verify(token string) (jwt.Token, error) {
	msg, err := jws.Parse([]byte(token))
	if err != nil {
		return nil, err
	}
	if h := msg.Signatures()[0].ProtectedHeaders(); h.Algorithm() != v.alg || h.Type() != "at+jwt" {
		return nil, errors.New("not an idp access token (alg or typ)")
	}
	// The key is picked by kid and used with its own alg.
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKeySet(v.keys),
		jwt.WithIssuer(v.issuer),
		// jwt.WithAudience("my-api"), // when idp's tokens.audience is set
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("iat"),
		jwt.WithClaimValue("token_type", "access"),
		jwt.WithAcceptableSkew(10*time.Second),
	)
	if err != nil {
		return nil, err
	}
	return tok, nil // tok.Subject(); tok.PrivateClaims()["user_id"], ["email"]
}
