// Package login is the hosted login: the sign-in page, the consent page,
// the user's list of remembered consents (withdrawable), and RP-initiated
// logout (OIDC RP-Initiated Logout 1.0) — server-rendered html/template
// pages with embedded assets that work without JavaScript.
//
// It never imports internal/oauth2: /oauth2/authorize parks a request and
// redirects here with ?req=<id>; when the user has signed in (or decided
// on consent) this package redirects back to ResumePath?req=<id>. The
// browser session is internal/websession's; password checks, throttling
// and audit go through internal/authn, the same path as /api/token/.
//
// Every page is sent with a CSP of default-src 'none' (styles from
// /login/assets only), frame-ancestors 'none' and X-Frame-Options DENY,
// no-store and no-referrer. Every form carries the browser session's CSRF
// token (csrf_token) and is refused without it.
package login
