package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/authn"
)

// deviceCookieName carries authn's device token: a client that logged in
// before presents it and is not subject to the account-wide login block
// (see internal/authn). It is HttpOnly, SameSite=Strict and scoped to the
// whole site so every login surface of this host sees it.
const deviceCookieName = "idp_device"

// deviceCookie is the device token the client presented ("" if none).
func deviceCookie(c echo.Context) string {
	ck, err := c.Cookie(deviceCookieName)
	if err != nil {
		return ""
	}
	return ck.Value
}

// setDeviceCookie hands a successful login its (new) device token.
func setDeviceCookie(c echo.Context, res authn.Result) {
	if res.Device == "" {
		return
	}
	c.SetCookie(&http.Cookie{
		Name:     deviceCookieName,
		Value:    res.Device,
		Path:     "/",
		MaxAge:   int(res.DeviceTTL.Seconds()),
		HttpOnly: true,
		Secure:   c.Scheme() == "https",
		SameSite: http.SameSiteStrictMode,
	})
}
