package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idp/idp/internal/storage/storagetest"
)

// TestAdminConsoleInBrowser drives the console in a real browser: a
// non-staff user is refused; staff log in, search, open a user, end a
// session, reset the password, deactivate them (who then gets no tokens)
// and read the audit entries of all of it.
func TestAdminConsoleInBrowser(t *testing.T) {
	a := newAdminEnv(t, storagetest.SQLite(t))
	ctx := newChrome(t)
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(what string, sel chromedp.CSS) string {
		t.Helper()
		do(what, chromedp.WaitVisible(sel))
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return s
	}
	login := func(email, password string) {
		t.Helper()
		do("login as "+email,
			chromedp.Navigate(a.url+"/admin/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.CSS(`form[action="/admin/login"] button`)))
	}
	login("bob@example.com", adminPassword)
	if s := text("non-staff refused", "p.error"); !strings.Contains(s, "Wrong email or password") {
		t.Fatalf("non-staff login says %q", s)
	}

	login("staff@example.com", adminPassword)
	do("search",
		chromedp.WaitVisible(chromedp.CSS(`form[role="search"]`)),
		chromedp.SendKeys(chromedp.ID("q"), "bo"),
		chromedp.Click(chromedp.CSS(`form[role="search"] button`)))
	until(t, ctx, "search results", "tbody", func(s string) bool {
		return strings.Contains(s, "bob@example.com") && !strings.Contains(s, "root@example.com")
	})
	do("open user", chromedp.Click(chromedp.Search(`//a[text()="bob@example.com"]`)), chromedp.WaitVisible(chromedp.ID("name")))

	// submit clicks a form's button and waits for the next page's status
	// message: the form posts, the console redirects, the page says what
	// happened. The old page may still be there for a moment (or be gone
	// mid-query), so this polls for the message rather than for any
	// status line.
	submit := func(what string, button chromedp.CSS, want string) {
		t.Helper()
		do(what, chromedp.Click(button))
		until(t, ctx, what, "p.status", func(s string) bool { return strings.Contains(s, want) })
	}
	submit("end session", `form[action^="/admin/sessions/"] button`, "Session ended")
	newPW := "a brand new passphrase"
	do("type password", chromedp.SendKeys(chromedp.ID("password"), newPW))
	submit("set password", `form[action$="/password"] button`, "Password set")
	a.login("bob@example.com", newPW) // the new password works
	do("untick active", chromedp.Click(chromedp.ID("is_active")))
	submit("deactivate", chromedp.CSS(fmt.Sprintf(`form[action="/admin/users/%d"] button`, a.bob.ID)), "Changes saved")
	if r := a.post("/api/token/", `{"email":"bob@example.com","password":"`+newPW+`"}`); r.status != 401 {
		t.Fatalf("deactivated user obtained tokens: %d %s", r.status, r.body)
	}
	do("audit", chromedp.Navigate(fmt.Sprintf("%s/admin/audit?user_id=%d", a.url, a.bob.ID)))
	s := text("audit rows", "tbody")
	for _, want := range []string{"user.updated", "is_active: true -> false", "admin.user.password_set", "admin.session.ended", "staff@example.com"} {
		if !strings.Contains(s, want) {
			t.Errorf("audit page lacks %q:\n%s", want, s)
		}
	}
}

// until polls the text of sel until ok accepts it: after a click the old
// page may still be shown for a moment, or be gone mid-query.
func until(t *testing.T, ctx context.Context, what string, sel chromedp.CSS, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		s, err := chromedp.Run(qctx, chromedp.Text(sel))
		cancel()
		if err == nil && ok(s) {
			return
		}
		last = s
	}
	t.Fatalf("%s: %s reads %q", what, sel, last)
}
