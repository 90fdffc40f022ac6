package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

// Consents is the part of the OpenID Connect core (authorize.Service) the
// surface uses: a user's remembered consents, and withdrawing one, which
// also ends the refresh families the client got under it.
type Consents interface {
	Consents(ctx context.Context, userID int64) ([]storage.Consent, error)
	WithdrawConsent(ctx context.Context, userID int64, clientID string) (int64, error)
}

type consentJSON struct {
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes"`
	Granted  time.Time `json:"granted"`
}

// Staff may read and withdraw consents: withdrawing changes the user's
// sessions, which staff may end.
func (a *api) mountConsents(g *echo.Group, _ echo.MiddlewareFunc) {
	g.GET("/users/:id/consents", a.h(a.listConsents))
	g.DELETE("/users/:id/consents/:client_id", a.h(a.withdrawConsent))
}

// consentsOf lists the user's consents in one query.
func (a *api) consentsOf(c echo.Context, u storage.User) ([]consentJSON, error) {
	cs, err := a.Consents.Consents(c.Request().Context(), u.ID)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	out := make([]consentJSON, 0, len(cs))
	for _, k := range cs {
		scopes := k.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		out = append(out, consentJSON{ClientID: k.ClientID, Scopes: scopes, Granted: k.GrantedAt.UTC()})
	}
	return out, nil
}

func (a *api) listConsents(c echo.Context) error {
	u, err := a.target(c)
	if err != nil {
		return err
	}
	items, err := a.consentsOf(c, u)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

// withdraw forgets the user's consent to the client and ends the refresh
// families issued under it (404 if there is none).
func (a *api) withdraw(c echo.Context, u storage.User, clientID string) error {
	if err := mayChange(actor(c), u); err != nil {
		return err
	}
	n, err := a.Consents.WithdrawConsent(c.Request().Context(), u.ID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return errNotFound()
	}
	if err != nil {
		return fmt.Errorf("withdraw consent: %w", err)
	}
	e := auditUser(u.ID, fmt.Sprintf("consent to client %s withdrawn; %d sessions ended", clientID, n))
	e.UserID = u.ID
	a.record(c, "admin.consent.withdrawn", e)
	return nil
}

func (a *api) withdrawConsent(c echo.Context) error {
	u, err := a.target(c)
	if err != nil {
		return err
	}
	if err := a.withdraw(c, u, c.Param("client_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
