// Package users owns accounts: email normalisation, registration
// validation with Django REST Framework's field messages, the password
// policy (Django's four default validators), and password hashing
// (argon2id in PHC strings; bcrypt and every Django hasher verified for
// migrated users — see django_hash.go — and transparently upgraded on
// login, with a password.rehashed audit event).
//
// Hashes and verifications run on the Service's hashing workers
// (hashpool.go): one thread each at a lowered priority, logins first, each
// hashing in the argon2 memory it keeps (internal/users/argon2).
//
// The same Service serves the HTTP API and the CLI. It knows nothing of
// HTTP: callers render *ValidationError (JSON in the contract's
// {"field":["message"]} shape) and map ErrInvalidCredentials to their 401.
//
// It may import internal/storage, its own internal/users/argon2, the
// standard library, golang.org/x/crypto, golang.org/x/net/idna and
// golang.org/x/sync; nothing else of idp's.
package users
