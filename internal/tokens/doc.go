// Package tokens issues and verifies idp's JWTs and keeps refresh-token
// families: the access token (typ at+jwt) a resource server checks offline
// against the JWKS, and the refresh token (typ rt+jwt) that only idp
// accepts, rotated on every use. Reusing a rotated refresh token revokes its
// whole family, except for the immediate predecessor within a short grace
// window (two tabs refreshing at once), which receives the same answer the
// winner got.
//
// Verification follows RFC 8725: the key is looked up by kid and the
// algorithm is the key's (the header's alg must equal it); none, HS* and
// unknown kids are rejected; typ, token_type, iss, aud, exp, nbf and iat are
// checked with a small leeway.
//
// tokens imports internal/storage and internal/signer (through the narrow
// KeySource interface) and jwx; it knows nothing of HTTP.
package tokens
