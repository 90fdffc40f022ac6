// Package clients is idp's OAuth 2.0 client registry: registering clients
// (with a generated id and secret, the secret shown once), their policy
// (which grant types, scopes, audiences and redirect URIs each may use),
// secret rotation with an overlap, and client authentication.
//
// A client secret is 256 random bits from crypto/rand. Such a secret needs
// no slow password hash: it is stored as its SHA-256 ("sha256:" + hex),
// and Authenticate compares hashes in constant time, so authenticating a
// client costs microseconds. An unknown client id costs the same hash and
// comparison as a known one.
//
// It is core: it imports internal/storage only, never HTTP or config, and
// serves both the OAuth 2.0 surface and the CLI.
package clients
