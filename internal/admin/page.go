package admin

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Keyset pages: a cursor is opaque to clients — a kind prefix and the
// last id seen (or, for a users search by q, which is in email-key order,
// the last email key seen), base64url — so the store never needs OFFSET
// and a page is stable under inserts.

const (
	defaultLimit = 50
	maxLimit     = 200
)

func encodeCursor(kind string, id int64) *string {
	s := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(id, 10)))
	return &s
}

func decodeCursor(kind, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	rest, ok := strings.CutPrefix(string(b), kind+":")
	if err != nil || !ok {
		return 0, errField("cursor", "Invalid cursor.")
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != rest {
		return 0, errField("cursor", "Invalid cursor.")
	}
	return id, nil
}

// maxKeyCursor bounds a decoded key cursor (email keys are far shorter).
const maxKeyCursor = 1024

func encodeKeyCursor(kind, key string) *string {
	s := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + key))
	return &s
}

func decodeKeyCursor(kind, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if base64.RawURLEncoding.DecodedLen(len(s)) > len(kind)+1+maxKeyCursor {
		return "", errField("cursor", "Invalid cursor.")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	key, ok := strings.CutPrefix(string(b), kind+":")
	if err != nil || !ok || key == "" || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
		return "", errField("cursor", "Invalid cursor.")
	}
	return key, nil
}

func parseLimit(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, errField("limit", "Must be an integer from 1 to 200.")
	}
	return n, nil
}

func parseBool(c echo.Context, name string) (*bool, error) {
	switch c.QueryParam(name) {
	case "":
		return nil, nil
	case "true":
		v := true
		return &v, nil
	case "false":
		v := false
		return &v, nil
	}
	return nil, errField(name, "Must be true or false.")
}

// parseID reads a positive integer path parameter; anything else is 404
// (no such resource), as for an unknown id.
func parseID(c echo.Context, name string) (int64, error) {
	s := c.Param(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, errDetail(http.StatusNotFound, "Not found.", "not_found")
	}
	return id, nil
}

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}
