// Package djangoimport brings the accounts of the Django REST Framework +
// SimpleJWT tutorial app (and Django apps shaped like it) into idp: ids,
// emails, names, flags, date_joined, last_login and password hashes as
// Django stored them (internal/users verifies every Django format and
// replaces it with argon2id at the first login).
//
// A Source streams the Django user table — from its Postgres database, its
// SQLite file, or a `manage.py dumpdata` fixture — without writing to it.
// Import validates each row with internal/users' registration rules,
// stages the valid ones in the store's import transaction
// (storage.UserImports) batch by batch, so memory does not grow with the
// table, has the store find clashes (case-insensitive email conflicts, ids
// or emails already in idp), resolves or refuses them, and applies all in
// one transaction: nothing is written unless everything can be.
//
// It may import internal/storage, internal/users, pgx and the SQLite
// driver; it knows nothing of HTTP, cobra or config.
package djangoimport
