package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/idp/idp/internal/storage"
)

type auditActor struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

type auditTarget struct {
	Type  string `json:"type"`
	ID    any    `json:"id"`
	Email string `json:"email,omitempty"`
}

type auditJSON struct {
	ID     int64        `json:"id"`
	Type   string       `json:"type"`
	Time   time.Time    `json:"time"`
	Actor  *auditActor  `json:"actor"`
	Target *auditTarget `json:"target"`
	IP     string       `json:"ip"`
	Detail string       `json:"detail"`
}

func auditOf(r storage.AuditRecord) auditJSON {
	j := auditJSON{ID: r.ID, Type: r.Type, Time: r.At.UTC(), IP: r.IP, Detail: r.Detail}
	if r.ActorID != 0 {
		j.Actor = &auditActor{ID: r.ActorID, Email: r.ActorEmail}
	}
	switch {
	case r.TargetType == "user":
		id, err := strconv.ParseInt(r.TargetID, 10, 64)
		if err != nil {
			j.Target = &auditTarget{Type: "user", ID: r.TargetID}
			break
		}
		j.Target = &auditTarget{Type: "user", ID: id, Email: r.UserEmail}
	case r.TargetType != "":
		j.Target = &auditTarget{Type: r.TargetType, ID: r.TargetID}
	case r.UserID != 0:
		j.Target = &auditTarget{Type: "user", ID: r.UserID, Email: r.UserEmail}
	case r.KID != "":
		j.Target = &auditTarget{Type: "key", ID: r.KID}
	case r.FamilyID != "":
		j.Target = &auditTarget{Type: "session", ID: r.FamilyID}
	}
	return j
}

func (a *api) mountAudit(g *echo.Group, _ echo.MiddlewareFunc) {
	g.GET("/audit", a.h(a.listAudit))
}

func parseTime(c echo.Context, name string) (time.Time, error) {
	s := c.QueryParam(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errField(name, "Must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z.")
	}
	return t, nil
}

func (a *api) auditPage(c echo.Context) (page[auditJSON], error) {
	var q storage.AuditQuery
	var err error
	if q.Limit, err = parseLimit(c); err != nil {
		return page[auditJSON]{}, err
	}
	if q.BeforeID, err = decodeCursor("a", c.QueryParam("cursor")); err != nil {
		return page[auditJSON]{}, err
	}
	if s := c.QueryParam("user_id"); s != "" {
		if q.UserID, err = strconv.ParseInt(s, 10, 64); err != nil || q.UserID <= 0 {
			return page[auditJSON]{}, errField("user_id", "Must be a user id.")
		}
	}
	q.Type = c.QueryParam("type")
	if q.Since, err = parseTime(c, "since"); err != nil {
		return page[auditJSON]{}, err
	}
	if q.Until, err = parseTime(c, "until"); err != nil {
		return page[auditJSON]{}, err
	}
	limit := q.Limit
	q.Limit++
	rs, err := a.Audit.SearchAudit(c.Request().Context(), q)
	if err != nil {
		return page[auditJSON]{}, err
	}
	p := page[auditJSON]{Items: []auditJSON{}}
	if len(rs) > limit {
		rs = rs[:limit]
		p.NextCursor = encodeCursor("a", rs[limit-1].ID)
	}
	for _, r := range rs {
		p.Items = append(p.Items, auditOf(r))
	}
	return p, nil
}

func (a *api) listAudit(c echo.Context) error {
	p, err := a.auditPage(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, p)
}

func (a *api) auditConsole(c echo.Context) error {
	p, err := a.auditPage(c)
	if err != nil {
		return err
	}
	prev, next := pager(c, "/admin/audit", p.NextCursor)
	return a.render(c, http.StatusOK, "audit", "Audit log", map[string]any{
		"Page": p, "UserID": c.QueryParam("user_id"), "Type": c.QueryParam("type"),
		"Since": c.QueryParam("since"), "Until": c.QueryParam("until"), "Prev": prev, "Next": next,
	}, "")
}
