// Package signer owns idp's signing keys: generating them (RSA, Ed25519),
// sealing the private halves under a key-encryption key (AES-256-GCM) before
// they reach storage, keeping one active key per algorithm ring, and the
// pre-rendered JWKS document that publishes the public halves.
//
// Keys move through the states of storage.KeyState: next (published, not
// signing yet) → active (signs; one per ring) → retired (published, verifies
// only) → gone, or revoked (withdrawn at once). Several idp instances may
// share one database: a key set change re-checks its reason inside
// storage.SigningKeys.UpdateSigningKeys, and "another instance already did
// it" is a normal outcome.
//
// Reads (SigningKey, VerificationKey, JWKS) are lock-free loads of an
// immutable snapshot; nothing is parsed, unsealed or rendered per request.
//
// signer imports internal/storage and jwx; it knows nothing of HTTP or tokens.
package signer
