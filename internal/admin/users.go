package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/users"
)

type userJSON struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	IsActive    bool       `json:"is_active"`
	IsStaff     bool       `json:"is_staff"`
	IsSuperuser bool       `json:"is_superuser"`
	DateJoined  time.Time  `json:"date_joined"`
	LastLogin   *time.Time `json:"last_login"`
}

func userOf(u storage.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Email: u.Email, IsActive: u.IsActive, IsStaff: u.IsStaff,
		IsSuperuser: u.IsSuperuser, DateJoined: u.DateJoined.UTC(), LastLogin: timePtr(u.LastLogin)}
}

func (a *api) mountUsers(g *echo.Group, su echo.MiddlewareFunc) {
	g.GET("/users", a.h(a.listUsers))
	g.POST("/users", a.h(a.createUser))
	g.GET("/users/:id", a.h(a.getUser))
	g.PATCH("/users/:id", a.h(a.updateUser))
	g.DELETE("/users/:id", a.h(a.deleteUser), su)
	g.POST("/users/:id/password", a.h(a.setPassword))
}

// userPage is one page of a users list, from the query string.
func (a *api) userPage(c echo.Context) (page[userJSON], error) {
	var q storage.UserQuery
	var err error
	if q.Limit, err = parseLimit(c); err != nil {
		return page[userJSON]{}, err
	}
	// a search by q is in email-key order, its cursor an email key
	q.Q = strings.TrimSpace(c.QueryParam("q"))
	if q.Q == "" {
		q.After.ID, err = decodeCursor("u", c.QueryParam("cursor"))
	} else {
		q.After.EmailKey, err = decodeKeyCursor("e", c.QueryParam("cursor"))
	}
	if err != nil {
		return page[userJSON]{}, err
	}
	if q.IsActive, err = parseBool(c, "is_active"); err != nil {
		return page[userJSON]{}, err
	}
	if q.IsStaff, err = parseBool(c, "is_staff"); err != nil {
		return page[userJSON]{}, err
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is a next page
	us, err := a.Users.Search(c.Request().Context(), q)
	if err != nil {
		return page[userJSON]{}, err
	}
	p := page[userJSON]{Items: []userJSON{}}
	if len(us) > limit {
		us = us[:limit]
		last := us[limit-1].Position
		if q.Q == "" {
			p.NextCursor = encodeCursor("u", last.ID)
		} else {
			p.NextCursor = encodeKeyCursor("e", last.EmailKey)
		}
	}
	for _, u := range us {
		p.Items = append(p.Items, userOf(u.User))
	}
	return p, nil
}

func (a *api) listUsers(c echo.Context) error {
	p, err := a.userPage(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, p)
}

// target loads the user of the :id path parameter.
func (a *api) target(c echo.Context) (storage.User, error) {
	id, err := parseID(c, "id")
	if err != nil {
		return storage.User{}, err
	}
	u, err := a.Users.Get(c.Request().Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, errNotFound()
	}
	return u, err
}

// mayChange: a staff user who is not a superuser may not change a
// superuser's account (else they could take it over by its password).
func mayChange(actor, target storage.User) error {
	if target.IsSuperuser && !actor.IsSuperuser {
		return errForbidden("Only a superuser may change a superuser's account.")
	}
	return nil
}

func (a *api) getUser(c echo.Context) error {
	u, err := a.target(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, userOf(u))
}

func (a *api) createUser(c echo.Context) error {
	var name, email, password string
	var staff, active bool
	present, err := a.decodeObject(c, map[string]any{"name": &name, "email": &email, "password": &password,
		"is_staff": &staff, "is_active": &active})
	if err != nil {
		return err
	}
	if staff && !actor(c).IsSuperuser {
		return errForbidden("Only a superuser may create staff users.")
	}
	ve := &users.ValidationError{}
	for _, f := range []string{"name", "email", "password"} {
		if !present[f] {
			ve.Add(f, users.MsgRequired)
		}
	}
	if !ve.Empty() {
		return fieldErrors(ve)
	}
	nu := users.NewUser{Name: name, Email: email, Password: password, IsStaff: &staff}
	if present["is_active"] {
		nu.IsActive = &active
	}
	if users.Strip(name) == "" {
		ve.Add(users.FieldName, users.MsgBlank)
		return fieldErrors(ve)
	}
	u, err := a.Users.CreateUser(c.Request().Context(), nu)
	if err != nil {
		return a.userError(err)
	}
	a.record(c, "admin.user.created", storage.AuditEvent{UserID: u.ID, TargetType: "user", TargetID: strconv.FormatInt(u.ID, 10),
		Detail: fmt.Sprintf("email=%s is_active=%t is_staff=%t", u.Email, u.IsActive, u.IsStaff)})
	return writeJSON(c, http.StatusCreated, userOf(u))
}

// userError maps the core's account errors to answers.
func (a *api) userError(err error) error {
	var ve *users.ValidationError
	switch {
	case errors.As(err, &ve):
		return fieldErrors(ve)
	case errors.Is(err, users.ErrEmailRequired):
		return errField(users.FieldEmail, users.MsgBlank)
	case errors.Is(err, storage.ErrConflict):
		return errDetail(http.StatusConflict, users.MsgEmailTaken, "email_taken")
	case errors.Is(err, storage.ErrLastSuperuser):
		return errDetail(http.StatusConflict, "This would leave no active superuser; make another user an active superuser first.", "last_superuser")
	case errors.Is(err, storage.ErrNotFound):
		return errNotFound()
	case errors.Is(err, users.ErrBusy):
		return errDetail(http.StatusServiceUnavailable, "Service temporarily unavailable, try again later.", "busy")
	}
	return err
}

func (a *api) updateUser(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	var ch users.Change
	var name, email string
	var active, staff, super bool
	present, err := a.decodeObject(c, map[string]any{"name": &name, "email": &email, "is_active": &active,
		"is_staff": &staff, "is_superuser": &super})
	if err != nil {
		return err
	}
	if present["name"] {
		ch.Name = &name
	}
	if present["email"] {
		ch.Email = &email
	}
	if present["is_active"] {
		ch.IsActive = &active
	}
	if present["is_staff"] {
		ch.IsStaff = &staff
	}
	if present["is_superuser"] {
		ch.IsSuperuser = &super
	}
	u, err := a.applyChange(c, target, ch)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, userOf(u))
}

// applyChange checks the actor's rights, applies ch and audits what
// changed. Shared by the API and the console.
func (a *api) applyChange(c echo.Context, target storage.User, ch users.Change) (storage.User, error) {
	me := actor(c)
	if err := mayChange(me, target); err != nil {
		return storage.User{}, err
	}
	if (ch.IsStaff != nil && *ch.IsStaff != target.IsStaff || ch.IsSuperuser != nil && *ch.IsSuperuser != target.IsSuperuser) && !me.IsSuperuser {
		return storage.User{}, errForbidden("Only a superuser may change is_staff or is_superuser.")
	}
	ch.Actor, ch.IP, ch.UserAgent = me.ID, c.RealIP(), c.Request().UserAgent()
	u, err := a.Users.Update(c.Request().Context(), target.ID, ch) // audited by the core, with the actor
	if err != nil {
		return storage.User{}, a.userError(err)
	}
	if !u.IsActive || !u.IsStaff {
		a.endConsoleSessions(c, u.ID)
	}
	return u, nil
}

func (a *api) setPassword(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	var password string
	present, err := a.decodeObject(c, map[string]any{"password": &password})
	if err != nil {
		return err
	}
	if !present["password"] {
		return errField(users.FieldPassword, users.MsgRequired)
	}
	if err := a.setPasswordOf(c, target, password); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *api) setPasswordOf(c echo.Context, target storage.User, password string) error {
	if err := mayChange(actor(c), target); err != nil {
		return err
	}
	if err := a.Users.SetPassword(c.Request().Context(), target.ID, password); err != nil {
		return a.userError(err)
	}
	a.endConsoleSessions(c, target.ID)
	a.record(c, "admin.user.password_set", storage.AuditEvent{UserID: target.ID, TargetType: "user",
		TargetID: strconv.FormatInt(target.ID, 10), Detail: "password set by an admin; sessions ended"})
	return nil
}

func (a *api) deleteUser(c echo.Context) error {
	target, err := a.target(c)
	if err != nil {
		return err
	}
	if err := a.Users.DeleteKeepingSuperuser(c.Request().Context(), target.ID); err != nil {
		return a.userError(err)
	}
	a.endConsoleSessions(c, target.ID)
	a.record(c, "admin.user.deleted", storage.AuditEvent{TargetType: "user", TargetID: strconv.FormatInt(target.ID, 10),
		Detail: "deleted " + target.Email + " and its sessions"})
	return c.NoContent(http.StatusNoContent)
}
