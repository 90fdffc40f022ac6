// Package oauth2 is idp's OAuth 2.0 authorization-server surface:
// POST /oauth2/token (RFC 6749: client_credentials, refresh_token,
// password — one file per grant behind one dispatch), POST
// /oauth2/introspect (RFC 7662), POST /oauth2/revoke (RFC 7009) and the
// RFC 8414 metadata at /.well-known/oauth-authorization-server.
//
// Requests are form bodies only (application/x-www-form-urlencoded), with
// no parameter repeated (except RFC 8707's resource); clients authenticate
// with client_secret_basic (id and secret form-urlencoded, RFC 6749
// §2.3.1) or client_secret_post, public clients with client_id alone.
// Every error is RFC 6749 §5.2's {"error","error_description"} with
// Cache-Control: no-store — never the tutorial API's shapes.
//
// It mounts itself on the Echo instance server hands it and speaks to the
// core (clients, tokens, and the password login) through the narrow
// interfaces declared in oauth2.go. It imports no other surface, no
// storage backend, config or metrics.
package oauth2
