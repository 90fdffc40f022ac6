// Package authn is idp's one password-login path. Every surface that logs
// a user in with email and password — the tutorial API's POST /api/token/,
// the OAuth 2.0 password grant, the hosted login page — calls
// Service.Login, so the sequence is written once:
//
//	throttle Admit  →  users.Authenticate  →  throttle Failed | Succeeded
//
// (the throttle audits every outcome). Login returns the user, or one of:
//
//   - ErrInvalidCredentials — unknown email, wrong password or inactive
//     account, indistinguishably (answer 401 / invalid_grant);
//   - a *ThrottledError (errors.Is(err, ErrThrottled)) carrying how long the
//     client must wait (answer 429 with Retry-After); no password work was
//     done;
//   - ErrBusy — no password-hashing capacity now (answer 503, Retry-After 1);
//   - any other error: an internal failure (storage), never the client's
//     fault.
//
// The caller passes what it knows of the client as plain values (IP, user
// agent, the device cookie it presented); authn knows nothing of HTTP,
// Echo or config. It imports internal/throttle, internal/users and
// internal/storage (records only).
package authn
