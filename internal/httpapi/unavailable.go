package httpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// storageRetryAfter is the Retry-After of a storage fault (seconds).
const storageRetryAfter = "5"

// storageFaults turns an internal error whose cause the store calls
// unavailable (read-only file, full disk, database unreachable) into 503
// {"detail":…} with Retry-After: the client may retry, nothing was
// written. It runs inside the request logger, which so logs the 503.
func storageFaults(unavailable func(error) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			var e *Error
			if err != nil && unavailable != nil && errors.As(err, &e) && e.Status == http.StatusInternalServerError && unavailable(e.Cause) {
				e.Status = http.StatusServiceUnavailable
				e.Body = detailBody{Detail: msgUnavailable}
				if e.Header == nil {
					e.Header = http.Header{}
				}
				e.Header.Set("Retry-After", storageRetryAfter)
			}
			return err
		}
	}
}
