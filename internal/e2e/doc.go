// Package e2e holds idp's end-to-end tests: real processes, not handlers.
// The tests build cmd/idp and cmd/resource-server once, run them on a
// throw-away PostgreSQL schema, and drive them over HTTP and the CLI:
//
//   - interop: third-party verifiers idp did not write (Node's jose,
//     PyJWT, Django REST Framework + SimpleJWT, Go's jwx) verify idp's
//     access tokens with only its live JWKS, across rotation and revocation;
//     their code is the README's snippets, kept in testdata/ and checked
//     byte for byte against the README;
//   - rotation: clients log in, refresh and call the resource server while
//     keys rotate and one is revoked;
//   - cluster: three idp instances on one database.
//
// The package has no code of its own. Its tests import only the standard
// library and internal/storage/storagetest (for the database); they never
// import idp's packages, only run its binaries. testdata/goverify imports
// jwx only. `make e2e-deps` installs what the other verifiers need.
package e2e
