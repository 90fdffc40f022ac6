package sqlite

import "github.com/idp/idp/internal/storage/sqlstore"

// The text rules are sqlstore's, shared by both stores (see sqlstore/text.go).
var (
	errInvalidText = sqlstore.ErrInvalidText
	validText      = sqlstore.ValidText
	checkText      = sqlstore.CheckText
	cleanText      = sqlstore.CleanText
)
