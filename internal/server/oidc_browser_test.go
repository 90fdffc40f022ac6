package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestOIDCBrowser runs the whole flow in headless Chromium: authorize →
// hosted login → code → tokens → ID token verified by go-oidc → userinfo;
// a second app through the SSO session with its consent page; refresh;
// RP-initiated logout.
func TestOIDCBrowser(t *testing.T) {
	ctx := newChrome(t)
	e := newOIDCEnv(t, stores[0].open(t))
	e.register("Alice Example", "alice@example.com", "correct-horse-battery")
	rp1 := newRP(t, e, "app1", "", "openid", "email", "profile", "offline_access")
	rp2 := newRP(t, e, "app2", "", "openid", "email")
	_, secret1, _ := e.oidcClients(rp1.srv.URL, rp2.srv.URL)
	rp1.conf.ClientSecret = secret1

	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(rp1.srv.URL+"/start"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct-horse-battery"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#signed-in`)),
	)
	if err != nil {
		t.Fatalf("app one in the browser: %v", err)
	}
	r1, n := rp1.result()
	if got := text(`#signed-in`); n != 1 || got != "signed in as alice@example.com" || r1.Claims["sid"] == nil || r1.Token.RefreshToken == "" {
		t.Fatalf("app one: %d results, claims %v", n, r1.Claims)
	}

	// Second app: no login form (SSO), its consent page once.
	err = chromedp.Do(ctx,
		chromedp.Navigate(rp2.srv.URL+"/start"),
		chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)),
	)
	if err != nil {
		t.Fatalf("app two in the browser: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value=allow]`)),
		chromedp.WaitVisible(chromedp.CSS(`#signed-in`)),
	)
	if err != nil {
		t.Fatalf("app two in the browser: %v", err)
	}
	if !strings.Contains(loc, "/login/consent?") {
		t.Fatalf("app two went through %s, want the consent page only", loc)
	}
	r2, _ := rp2.result()
	if r2.Claims["sid"] != r1.Claims["sid"] || r2.Claims["auth_time"] != r1.Claims["auth_time"] {
		t.Fatalf("SSO sid/auth_time: %v/%v vs %v/%v", r2.Claims["sid"], r2.Claims["auth_time"], r1.Claims["sid"], r1.Claims["auth_time"])
	}

	// Refresh, then logout ends the session and its refresh families.
	nt, err := rp1.conf.TokenSource(rp1.ctx, &oauth2.Token{RefreshToken: r1.Token.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(e.url+"/logout?"+url.Values{"id_token_hint": {r1.RawID},
			"post_logout_redirect_uri": {rp1.srv.URL + "/bye"}, "state": {"bye-1"}}.Encode()),
		chromedp.WaitVisible(chromedp.CSS(`#signed-out`)),
	)
	if got := text(`#signed-out`); err != nil || got != "signed out, state bye-1" {
		t.Fatalf("logout: %q %v", got, err)
	}
	if _, err := rp1.conf.TokenSource(rp1.ctx, &oauth2.Token{RefreshToken: nt.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
		t.Fatal("refresh after logout must fail")
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(rp1.srv.URL+"/start"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	if err != nil {
		t.Fatalf("after logout the login form again: %v", err)
	}
}
