// Package sqlstore holds the SQL both stores share: the tables whose
// statements are the same on SQLite and PostgreSQL are written here ONCE,
// over database/sql, and each backend supplies a Dialect with the few
// real differences — placeholders ($n or ?), how a time is encoded
// (timestamptz or INTEGER unix microseconds) and which driver error codes
// mean a conflict. It also holds the text rules both stores apply.
//
// Tables written here: oauth2_clients and revoked_tokens (migrations
// 00010 and 00011 of each backend); browser_sessions,
// authorization_requests, authorization_codes, consents and grant_links
// (00025–00029, OpenID Connect). The older tables (users, keys,
// families, throttles) still have most of their statements in each backend.
// Also here: the audit trail (RecordAudit, ListAudit, SearchAudit and its
// retention), the revoked-session feed of the session check, and the email
// re-keying, whose statements differ between the stores in nothing but
// placeholders and time encoding.
// The user import's staging SQL (userimport_sql.go) is shared too: each
// backend only loads the staging table its own way (COPY on PostgreSQL,
// a prepared INSERT on SQLite) and runs these statements in its transaction.
//
// It imports internal/storage and nothing else of idp's; only the
// backends import it.
package sqlstore
