// Package storagetest opens fresh, migrated stores for tests (SQLite in a
// temporary directory, Postgres in a throw-away schema) and holds Run, the
// one conformance suite both backends must pass.
//
// It is an ordinary package so that tests anywhere in idp can use it; only
// test code may import it. It imports internal/storage and its backends.
package storagetest
