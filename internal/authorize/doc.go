// Package authorize is the core of the OpenID Connect authorization code
// flow, without HTTP: pending authorization requests (parked by
// /oauth2/authorize while the hosted login and consent pages run, handed
// between those surfaces by id only), single-use authorization codes bound
// to what they were issued for, PKCE (S256), remembered consents, and the
// links from code-issued refresh families to the browser session (OIDC
// sid) and client, through which logout and a withdrawn consent end them.
//
// It imports internal/storage only; internal/oauth2 and internal/login use
// it, and the admin API may (Consents, WithdrawConsent).
package authorize
