package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The OpenID Connect code flow end to end, without a browser: a cookie
// jar and the hosted login form posted as a browser would.
func TestOIDCFlowWithoutBrowser(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newOIDCEnv(t, st.open(t))
			e.register("Alice Example", "alice@example.com", "correct-horse-battery")
			rp1 := newRP(t, e, "app1", "", "openid", "email", "profile", "offline_access")
			rp2 := newRP(t, e, "app2", "", "openid", "email")
			_, secret1, _ := e.oidcClients(rp1.srv.URL, rp2.srv.URL)
			rp1.conf.ClientSecret = secret1
			b := newBrowser(t)

			// App one: authorize → login page → code → tokens.
			p := b.get(rp1.srv.URL + "/start")
			if p.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatalf("login page framing headers: %v", p.header)
			}
			if !strings.Contains(p.body, `name="email"`) || !strings.Contains(p.body, `name="password"`) || !strings.Contains(p.body, `name="csrf_token"`) {
				t.Fatalf("login form fields: %s", p.body)
			}
			wrong := b.login(e.url, p, "alice@example.com", "wrong-password-here")
			nobody := b.login(e.url, p, "nobody@example.com", "wrong-password-here")
			if wrong.status != http.StatusUnauthorized || nobody.status != http.StatusUnauthorized ||
				!strings.Contains(wrong.body, "Incorrect email or password.") || !strings.Contains(nobody.body, "Incorrect email or password.") {
				t.Fatalf("wrong password %d / unknown email %d must read alike", wrong.status, nobody.status)
			}
			p = b.login(e.url, wrong, "alice@example.com", "correct-horse-battery")
			if p.status != 200 || p.url.Host != strings.TrimPrefix(rp1.srv.URL, "http://") {
				t.Fatalf("after login: %s %d %s", p.url, p.status, p.body)
			}
			r1, n := rp1.result()
			if n != 1 {
				t.Fatalf("rp1 results = %d", n)
			}
			c := r1.Claims
			sid, _ := c["sid"].(string)
			if c["aud"] != "app1" || c["azp"] != "app1" || c["email"] != "alice@example.com" || c["email_verified"] != false ||
				c["name"] != "Alice Example" || sid == "" || c["auth_time"] == nil || c["at_hash"] == nil {
				t.Fatalf("ID token claims: %v", c)
			}
			if r1.UserInfo["email"] != "alice@example.com" || r1.UserInfo["name"] != "Alice Example" {
				t.Fatalf("userinfo: %v", r1.UserInfo)
			}
			if r1.Token.RefreshToken == "" {
				t.Fatal("offline_access for a client allowed refresh_token: want a refresh token")
			}

			// App two: the SSO session skips the login; consent is asked once.
			p = b.get(rp2.srv.URL + "/start")
			p = b.consent(e.url, p, "allow")
			r2, n := rp2.result()
			if p.status != 200 || n != 1 {
				t.Fatalf("app two: %s %d %.300s", p.url, p.status, p.body)
			}
			if r2.Claims["sid"] != sid || r2.Claims["auth_time"] != c["auth_time"] || r2.Claims["aud"] != "app2" {
				t.Fatalf("SSO: app two's sid/auth_time %v/%v, app one's %v/%v", r2.Claims["sid"], r2.Claims["auth_time"], sid, c["auth_time"])
			}
			if r2.Claims["name"] != nil {
				t.Fatalf("name without the profile scope: %v", r2.Claims)
			}
			if r2.Token.RefreshToken != "" {
				t.Fatal("no offline_access asked: no refresh token")
			}
			p = b.get(rp2.srv.URL + "/start") // remembered consent: straight through
			if _, n := rp2.result(); p.status != 200 || n != 2 {
				t.Fatalf("remembered consent: %s %d", p.url, p.status)
			}
			p = b.get(rp2.srv.URL + "/start?prompt=none")
			if _, n := rp2.result(); p.status != 200 || n != 3 {
				t.Fatalf("prompt=none with a session: %s %d %s", p.url, p.status, p.body)
			}

			// The user's applications: app two listed, withdrawn, asked again.
			p = b.get(e.url + "/login/consents")
			if p.status != 200 || !strings.Contains(p.body, "App Two") {
				t.Fatalf("consents page: %d %s", p.status, p.body)
			}
			v := p.hidden()
			if r := b.postForm(e.url+"/login/consents/withdraw", url.Values{"client_id": {"app2"}}); r.status != http.StatusForbidden {
				t.Fatalf("withdraw without CSRF token: %d", r.status)
			}
			if r := b.postForm(e.url+"/login/consents/withdraw", v); r.status != 200 || strings.Contains(r.body, "App Two") {
				t.Fatalf("withdraw: %d %s", r.status, r.body)
			}
			if p = b.get(rp2.srv.URL + "/start"); p.url.Path != "/login/consent" {
				t.Fatalf("after withdrawal the consent page again: %s", p.url)
			}
			if p = b.consent(e.url, p, "deny"); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "access_denied") {
				t.Fatalf("deny: %d %s", p.status, p.body)
			}

			// max_age: an older sign-in asks again.
			e.clock.Advance(2 * time.Minute)
			if p = b.get(rp1.srv.URL + "/start?max_age=60"); p.url.Path != "/login" {
				t.Fatalf("max_age=60 two minutes after sign-in: %s", p.url)
			}
			if p = b.get(rp1.srv.URL + "/start?max_age=600"); p.status != 200 || p.url.Path != "/callback" {
				t.Fatalf("max_age=600: %s %d", p.url, p.status)
			}

			// Logout without an id_token_hint asks first.
			if p = b.get(e.url + "/logout"); p.status != 200 || !strings.Contains(p.body, `name="confirm"`) {
				t.Fatalf("logout without hint: %d %s", p.status, p.body)
			}

			// Refresh keeps sid and auth_time.
			e.clock.Advance(time.Minute)
			ts := rp1.conf.TokenSource(rp1.ctx, &oauth2.Token{RefreshToken: r1.Token.RefreshToken, Expiry: time.Now().Add(-time.Hour)})
			nt, err := ts.Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			raw, _ := nt.Extra("id_token").(string)
			idt, err := rp1.verifier.Verify(rp1.ctx, raw)
			if err != nil {
				t.Fatalf("refreshed ID token: %v", err)
			}
			var rc map[string]any
			_ = idt.Claims(&rc)
			if rc["sid"] != sid || rc["auth_time"] != c["auth_time"] {
				t.Fatalf("refreshed ID token sid/auth_time %v/%v, want %v/%v", rc["sid"], rc["auth_time"], sid, c["auth_time"])
			}

			// prompt=login asks again although the session is live.
			p = b.get(rp1.srv.URL + "/start?prompt=login")
			if p.url.Path != "/login" {
				t.Fatalf("prompt=login: %s", p.url)
			}
			if p = b.login(e.url, p, "alice@example.com", "correct-horse-battery"); p.status != 200 {
				t.Fatalf("sign-in again: %d %s", p.status, p.body)
			}
			r3, _ := rp1.result()
			if r3.Claims["sid"] == sid || r3.Claims["auth_time"] == c["auth_time"] {
				t.Fatalf("a new sign-in is a new browser session: %v", r3.Claims)
			}

			// RP-initiated logout: ends the session and its refresh families,
			// those issued before the new sign-in too.
			p = b.get(e.url + "/logout?" + url.Values{"id_token_hint": {r3.RawID},
				"post_logout_redirect_uri": {rp1.srv.URL + "/bye"}, "state": {"s-1"}}.Encode())
			if p.status != 200 || p.url.Path != "/bye" || p.url.Query().Get("state") != "s-1" {
				t.Fatalf("logout: %s %d %s", p.url, p.status, p.body)
			}
			if _, err := rp1.conf.TokenSource(rp1.ctx, &oauth2.Token{RefreshToken: nt.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
				t.Fatal("refresh after logout must fail")
			}
			p = b.get(rp2.srv.URL + "/start?prompt=none")
			if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "login_required") {
				t.Fatalf("prompt=none after logout: %d %s", p.status, p.body)
			}
			p = b.get(rp1.srv.URL + "/start")
			if p.url.Path != "/login" {
				t.Fatalf("after logout the login page again: %s", p.url)
			}
		})
	}
}
