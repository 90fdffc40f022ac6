// Package websession is the browser session: a cookie naming server-side
// state (storage.BrowserSessions), and CSRF tokens bound to it. ("Session"
// alone means a refresh family in idp; this one is the browser's.)
//
// The hosted login uses it as the single sign-on session, whose ID is the
// OIDC `sid`; the admin console uses its own Manager with its own cookie
// (e.g. Name "idp_admin", Path "/admin", SameSite Strict).
//
// The cookie value is "<id>.<secret>": the id is public (it is the sid RPs
// see), the 256-bit secret is known only to the browser and only its
// SHA-256 is stored, compared in constant time. The cookie is HttpOnly,
// Secure when the request came over TLS (directly, or through a trusted
// proxy saying so in X-Forwarded-Proto or Forwarded), with the Path and
// SameSite of the Manager. Login always starts a NEW session (new id and
// secret) and ends the one the cookie named, so a planted cookie never
// becomes an authenticated session (session fixation).
//
// Lifetimes: an idle timeout that slides with use (written at most once per
// TouchInterval, so a busy session costs no write per request) and an
// absolute lifetime from login. Anonymous sessions (UserID 0) exist only to
// bind the CSRF token of a form shown before login; they get a short
// lifetime of their own.
//
// CSRF tokens are HMAC-SHA256(secret, "csrf|"+id): only a page the browser
// was served knows one, nothing extra is stored, and a new session voids
// them. Compare with CheckCSRF (constant time).
//
// The package knows net/http cookies and nothing of Echo, OAuth or the
// pages using it; it imports internal/storage only. Whether the session's
// user may still act (active, not deleted) is the caller's check.
package websession
