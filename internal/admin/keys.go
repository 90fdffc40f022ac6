package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
)

type keyJSON struct {
	KID       string           `json:"kid"`
	Use       string           `json:"use"`
	Alg       string           `json:"alg"`
	State     storage.KeyState `json:"state"`
	Created   time.Time        `json:"created"`
	Activates time.Time        `json:"activates"`
	Retires   *time.Time       `json:"retires"`
}

func (a *api) mountKeys(g *echo.Group, su echo.MiddlewareFunc) {
	g.GET("/keys", a.h(a.listKeys))
	g.POST("/keys/rotate", a.h(a.rotateKey), su)
	g.POST("/keys/:kid/revoke", a.h(a.revokeKey), su)
}

// use names a ring by what it signs.
func (a *api) use(alg string) string {
	if alg == a.AccessAlg {
		return "access"
	}
	return "refresh"
}

func (a *api) keys(c echo.Context) ([]keyJSON, error) {
	ks, err := a.Signer.Lifecycle().List(c.Request().Context())
	if err != nil {
		return nil, err
	}
	out := make([]keyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyJSON{KID: k.KID, Use: a.use(k.Alg), Alg: k.Alg, State: k.State,
			Created: k.Created.UTC(), Activates: k.Activates.UTC(), Retires: timePtr(k.Retires)})
	}
	return out, nil
}

func (a *api) listKeys(c echo.Context) error {
	ks, err := a.keys(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": ks})
}

// rotate rotates the ring of use and returns its new active key.
func (a *api) rotate(c echo.Context, use string, force bool) (keyJSON, error) {
	alg := map[string]string{"access": a.AccessAlg, "refresh": a.RefreshAlg}[use]
	if alg == "" {
		return keyJSON{}, errField("use", `Must be "access" or "refresh".`)
	}
	ctx := c.Request().Context()
	_, err := a.Signer.Lifecycle().Rotate(ctx, alg, force)
	if errors.Is(err, signer.ErrTooEarly) {
		return keyJSON{}, errDetail(http.StatusConflict, err.Error(), "rotation_unsafe")
	}
	if err != nil {
		return keyJSON{}, err
	}
	if err := a.Signer.Reload(ctx); err != nil {
		return keyJSON{}, err
	}
	ks, err := a.keys(c)
	if err != nil {
		return keyJSON{}, err
	}
	for _, k := range ks {
		if k.Alg == alg && k.State == storage.KeyActive {
			detail := use + " ring rotated"
			if force {
				detail += " (forced)"
			}
			a.record(c, "admin.key.rotated", storage.AuditEvent{KID: k.KID, TargetType: "key", TargetID: k.KID, Detail: detail})
			return k, nil
		}
	}
	return keyJSON{}, errors.New("no active key after rotation")
}

func (a *api) rotateKey(c echo.Context) error {
	var use string
	var force bool
	present, err := a.decodeObject(c, map[string]any{"use": &use, "force": &force})
	if err != nil {
		return err
	}
	if !present["use"] {
		return errField("use", "This field is required.")
	}
	k, err := a.rotate(c, use, force)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, k)
}

func (a *api) revoke(c echo.Context, kid, reason string) (keyJSON, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return keyJSON{}, errField("reason", "This field is required.")
	}
	ctx := c.Request().Context()
	_, err := a.Signer.Lifecycle().Revoke(ctx, kid, reason)
	switch {
	case errors.Is(err, signer.ErrNoSuchKey):
		return keyJSON{}, errNotFound()
	case err != nil && strings.Contains(err.Error(), "already revoked"):
		return keyJSON{}, errDetail(http.StatusConflict, "The key is already revoked.", "already_revoked")
	case err != nil:
		return keyJSON{}, err
	}
	if err := a.Signer.Reload(ctx); err != nil {
		return keyJSON{}, err
	}
	a.record(c, "admin.key.revoked", storage.AuditEvent{KID: kid, TargetType: "key", TargetID: kid, Detail: "reason: " + reason})
	ks, err := a.keys(c)
	if err != nil {
		return keyJSON{}, err
	}
	for _, k := range ks {
		if k.KID == kid {
			return k, nil
		}
	}
	return keyJSON{}, errNotFound()
}

func (a *api) revokeKey(c echo.Context) error {
	var reason string
	if _, err := a.decodeObject(c, map[string]any{"reason": &reason}); err != nil {
		return err
	}
	k, err := a.revoke(c, c.Param("kid"), reason)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, k)
}
