// Package admin is the staff administration surface under /admin/api/: a
// JSON API for users, their sessions and OpenID Connect consents, signing
// keys, OAuth 2.0 clients and the audit trail, over the same core calls as
// the CLI (users, tokens, signer, clients, and authorize through the
// narrow Consents interface; never HTTP calls to itself). One file per
// domain.
//
// Authorization is middleware, per route: every request's bearer access
// token is verified and its user row read again, so a deactivated or
// demoted admin loses access at once; staff read everything and change
// users, superusers alone change privileges, delete users and manage keys
// and clients. The few data-dependent rules (a staff user may create only
// plain users, may not touch a superuser's account) are checked against
// the same actor the middleware loaded. Every change is audited with its
// actor, target and what changed — never a password or hash.
//
// It imports echo and the core packages, never another surface, a
// storage backend or config; internal/server mounts it.
package admin
