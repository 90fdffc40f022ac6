package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// The rows of ../shared/seed-api-contract.md §4–§6 that idp keeps, and the
// rows of §11 where idp differs, through the real HTTP stack on both stores.

const (
	bodyRequired3   = `{"name":["This field is required."],"email":["This field is required."],"password":["This field is required."]}`
	bodyBadCreds    = `{"detail":"No active account found with the given credentials"}`
	bodyInvalid     = `{"detail":"Token is invalid or expired","code":"token_not_valid"}`
	bodyBlacklisted = `{"detail":"Token is blacklisted","code":"token_not_valid"}`
	bodyWrongType   = `{"detail":"Token has wrong type","code":"token_not_valid"}`
	bodyNotProvided = `{"detail":"Authentication credentials were not provided."}`
	bodyBadHeader   = `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`
	bodyGivenToken  = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
	bodyGivenWrong  = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`
)

type row struct {
	name    string
	method  string // default POST
	path    string
	body    string
	headers []string
	status  int
	want    string // exact body, when set
	check   func(t *testing.T, r response)
}

func runRows(t *testing.T, e *env, rows []row) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			r := e.do(method, tc.path, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.want != "" && r.body != tc.want {
				t.Errorf("body\n got  %s\n want %s", r.body, tc.want)
			}
			if ct := r.header.Get("Content-Type"); r.body != "" && ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if r.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") != `Bearer realm="api"` {
				t.Errorf("401 without WWW-Authenticate: %q", r.header.Get("WWW-Authenticate"))
			}
			if r.status == http.StatusBadRequest && r.header.Get("WWW-Authenticate") != "" {
				t.Errorf("400 with WWW-Authenticate")
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestContract(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store)
		t.Run("register", func(t *testing.T) { testRegister(t, e) })
		t.Run("token", func(t *testing.T) { testObtain(t, e) })
		t.Run("refresh", func(t *testing.T) { testRefresh(t, e) })
		t.Run("verify", func(t *testing.T) { testVerify(t, e) })
		t.Run("logged-user", func(t *testing.T) { testLoggedUser(t, e) })
		t.Run("paths", func(t *testing.T) { testPaths(t, e) })
	})
}

func userRow(t *testing.T, s storage.Store, email string) storage.User {
	t.Helper()
	u, err := s.GetUserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u
}

func testRegister(t *testing.T, e *env) {
	long := strings.Repeat("a", 101)
	runRows(t, e, []row{
		{name: "valid", path: "/api/register/", body: `{"name":"Alice","email":"alice@example.com","password":"s3cret-pass"}`, status: 200,
			check: func(t *testing.T, r response) {
				u := userRow(t, e.store, "alice@example.com")
				want := fmt.Sprintf(`{"id":%d,"name":"Alice","email":"alice@example.com","is_active":true}`, u.ID)
				if r.body != want {
					t.Errorf("body %s, want %s", r.body, want)
				}
				if u.PasswordHash == "s3cret-pass" || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
					t.Errorf("password not hashed with argon2id: %q", u.PasswordHash[:10])
				}
			}},
		{name: "duplicate", path: "/api/register/", body: `{"name":"Alice","email":"alice@example.com","password":"s3cret-pass"}`, status: 400,
			want: `{"email":["User with this email already exists."]}`},
		{name: "duplicate-other-case/differs", path: "/api/register/", body: `{"name":"Alice","email":"ALICE@EXAMPLE.COM","password":"s3cret-pass"}`, status: 400,
			want: `{"email":["User with this email already exists."]}`},
		{name: "mixed-case-domain-normalised/differs", path: "/api/register/", body: `{"name":"Bob","email":"Bob@EXAMPLE.COM","password":"s3cret-pass"}`, status: 200,
			check: func(t *testing.T, r response) {
				if got := r.json(t)["email"]; got != "Bob@example.com" {
					t.Errorf("email %v, want the domain lower-cased", got)
				}
			}},
		{name: "all-missing", path: "/api/register/", body: `{}`, status: 400, want: bodyRequired3},
		{name: "empty-body", path: "/api/register/", status: 400, want: bodyRequired3},
		{name: "password-missing", path: "/api/register/", body: `{"name":"B","email":"b@example.com"}`, status: 400,
			want: `{"password":["This field is required."]}`},
		{name: "invalid-email", path: "/api/register/", body: `{"name":"B","email":"not-an-email","password":"s3cret-pass"}`, status: 400,
			want: `{"email":["Enter a valid email address."]}`},
		{name: "empty-password", path: "/api/register/", body: `{"name":"B","email":"b@example.com","password":""}`, status: 400,
			want: `{"password":["This field may not be blank."]}`},
		{name: "whitespace-password", path: "/api/register/", body: `{"name":"B","email":"b@example.com","password":"   "}`, status: 400,
			want: `{"password":["This field may not be blank."]}`},
		{name: "nulls", path: "/api/register/", body: `{"name":null,"email":null,"password":null}`, status: 400,
			want: `{"name":["This field may not be null."],"email":["This field may not be null."],"password":["This field may not be null."]}`},
		{name: "too-long", path: "/api/register/", body: fmt.Sprintf(`{"name":%q,"email":%q,"password":%q}`, long, long[:90]+"@example.com", strings.Repeat("p", 129)), status: 400,
			want: `{"name":["Ensure this field has no more than 100 characters."],"email":["Ensure this field has no more than 100 characters."],"password":["Ensure this field has no more than 128 characters."]}`},
		{name: "weak-password/differs", path: "/api/register/", body: `{"name":"W","email":"weak@example.com","password":"1"}`, status: 400,
			check: func(t *testing.T, r response) {
				msgs := r.json(t)["password"].([]any)
				joined := fmt.Sprint(msgs...)
				for _, m := range []string{"This password is too short. It must contain at least 8 characters.", "This password is entirely numeric."} {
					if !strings.Contains(joined, m) {
						t.Errorf("missing %q in %v", m, msgs)
					}
				}
				if _, err := e.store.GetUserByEmail(context.Background(), "weak@example.com"); err == nil {
					t.Error("a user was created")
				}
			}},
		{name: "common-password/differs", path: "/api/register/", body: `{"name":"W","email":"weak@example.com","password":"password123"}`, status: 400,
			want: `{"password":["This password is too common."]}`},
		{name: "similar-to-email/differs", path: "/api/register/", body: `{"name":"W","email":"margaret.hamilton@example.com","password":"margaret.hamilton"}`, status: 400,
			want: `{"password":["The password is too similar to the email."]}`},
		{name: "not-a-string", path: "/api/register/", body: `{"name":["x"],"email":true,"password":{"a":1}}`, status: 400,
			want: `{"name":["Not a valid string."],"email":["Not a valid string."],"password":["Not a valid string."]}`},
		{name: "nul-character", path: "/api/register/", body: `{"name":"a\u0000b","email":"nul@example.com","password":"s3cret-pass"}`, status: 400,
			want: `{"name":["Null characters are not allowed."]}`},
		{name: "extra-fields-ignored", path: "/api/register/", body: `{"name":"Extra","email":"extra@example.com","password":"s3cret-pass","id":999,"foo":"bar"}`, status: 200,
			check: func(t *testing.T, r response) {
				if r.json(t)["id"] == float64(999) {
					t.Error("id taken from the body")
				}
			}},
		{name: "privilege-fields-ignored", path: "/api/register/", body: `{"name":"Mallory","email":"mallory@example.com","password":"s3cret-pass","is_staff":true,"is_superuser":true,"is_admin":true,"is_active":false}`, status: 200,
			check: func(t *testing.T, r response) {
				if r.json(t)["is_active"] != true {
					t.Errorf("is_active not forced true: %s", r.body)
				}
				u := userRow(t, e.store, "mallory@example.com")
				if u.IsStaff || u.IsSuperuser || u.IsAdmin || !u.IsActive {
					t.Errorf("escalation: %+v", u)
				}
			}},
		{name: "padded-password", path: "/api/register/", body: `{"name":"Pad","email":"pad@example.com","password":"  padded-pass  "}`, status: 200},
		{name: "form-encoded", path: "/api/register/", body: "name=Form&email=form%40example.com&password=x1234567y", headers: []string{"Content-Type: application/x-www-form-urlencoded"}, status: 200,
			check: func(t *testing.T, r response) {
				if m := r.json(t); m["email"] != "form@example.com" || m["name"] != "Form" {
					t.Errorf("body %s", r.body)
				}
			}},
		{name: "multipart", path: "/api/register/", body: "--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nMulti\r\n--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nmulti@example.com\r\n--XX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nmulti-pass-9\r\n--XX--\r\n",
			headers: []string{"Content-Type: multipart/form-data; boundary=XX"}, status: 200},
		{name: "malformed-json", path: "/api/register/", body: `{"name": `, status: 400,
			want: `{"detail":"JSON parse error - Expecting value: line 1 column 10 (char 9)"}`},
		{name: "json-not-an-object", path: "/api/register/", body: `[1,2]`, status: 400,
			want: `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{name: "text-plain", path: "/api/register/", body: "hello", headers: []string{"Content-Type: text/plain"}, status: 415,
			want: `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{name: "invalid-bearer-refused", path: "/api/register/", body: `{"name":"Eve","email":"eve@example.com","password":"s3cret-pass"}`, headers: []string{"Authorization: Bearer garbage"}, status: 401,
			want: bodyGivenToken,
			check: func(t *testing.T, r response) {
				if _, err := e.store.GetUserByEmail(context.Background(), "eve@example.com"); err == nil {
					t.Error("the user was created")
				}
			}},
		{name: "get", method: "GET", path: "/api/register/", status: 405, want: `{"detail":"Method \"GET\" not allowed."}`,
			check: func(t *testing.T, r response) {
				if r.header.Get("Allow") != "POST, OPTIONS" {
					t.Errorf("Allow %q", r.header.Get("Allow"))
				}
			}},
		{name: "no-slash/differs", path: "/api/register", body: `{"name":"NoSlash","email":"noslash@example.com","password":"s3cret-pass"}`, status: 200},
		{name: "body-too-large", path: "/api/register/", body: `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, status: 413},
	})
}

func testObtain(t *testing.T, e *env) {
	e.t = t
	e.register("Tok", "tok@example.com", "s3cret-pass")
	e.register("Inactive", "inactive@example.com", "s3cret-pass")
	u := userRow(t, e.store, "inactive@example.com")
	if err := e.store.SetUserActive(context.Background(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	pair := func(t *testing.T, r response) {
		m := r.json(t)
		if !strings.HasPrefix(r.body, `{"refresh":"`) || m["access"] == nil || len(m) != 2 {
			t.Errorf("not a token pair in order refresh, access: %s", r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
		}
	}
	runRows(t, e, []row{
		{name: "valid", path: "/api/token/", body: `{"email":"tok@example.com","password":"s3cret-pass"}`, status: 200, check: func(t *testing.T, r response) {
			pair(t, r)
			if userRow(t, e.store, "tok@example.com").LastLogin.IsZero() {
				t.Error("last_login not set")
			}
		}},
		{name: "wrong-password", path: "/api/token/", body: `{"email":"tok@example.com","password":"wrong"}`, status: 401, want: bodyBadCreds},
		{name: "unknown-email", path: "/api/token/", body: `{"email":"nobody@example.com","password":"s3cret-pass"}`, status: 401, want: bodyBadCreds},
		{name: "inactive-user", path: "/api/token/", body: `{"email":"inactive@example.com","password":"s3cret-pass"}`, status: 401, want: bodyBadCreds},
		{name: "other-case/differs", path: "/api/token/", body: `{"email":"Tok@EXAMPLE.com","password":"s3cret-pass"}`, status: 200, check: pair},
		{name: "empty-object", path: "/api/token/", body: `{}`, status: 400, want: `{"email":["This field is required."],"password":["This field is required."]}`},
		{name: "password-missing", path: "/api/token/", body: `{"email":"tok@example.com"}`, status: 400, want: `{"password":["This field is required."]}`},
		{name: "empty-password", path: "/api/token/", body: `{"email":"tok@example.com","password":""}`, status: 400, want: `{"password":["This field may not be blank."]}`},
		{name: "username-instead", path: "/api/token/", body: `{"username":"tok@example.com","password":"s3cret-pass"}`, status: 400, want: `{"email":["This field is required."]}`},
		{name: "padded-trimmed", path: "/api/token/", body: `{"email":"pad@example.com","password":"padded-pass"}`, status: 200, check: pair},
		{name: "padded-as-registered", path: "/api/token/", body: `{"email":"pad@example.com","password":"  padded-pass  "}`, status: 200, check: pair},
		{name: "form-encoded", path: "/api/token/", body: "email=tok%40example.com&password=s3cret-pass", headers: []string{"Content-Type: application/x-www-form-urlencoded"}, status: 200, check: pair},
		{name: "malformed-json", path: "/api/token/", body: `{"email": `, status: 400, want: `{"detail":"JSON parse error - Expecting value: line 1 column 11 (char 10)"}`},
		{name: "get", method: "GET", path: "/api/token/", status: 405, want: `{"detail":"Method \"GET\" not allowed."}`, check: func(t *testing.T, r response) {
			if r.header.Get("Allow") != "POST, OPTIONS" {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
		}},
		{name: "options", method: "OPTIONS", path: "/api/token/", status: 200, check: func(t *testing.T, r response) {
			m := r.json(t)
			if m["name"] != "Token Obtain Pair" || m["actions"] == nil {
				t.Errorf("metadata %s", r.body)
			}
		}},
		{name: "bearer-ignored", path: "/api/token/", body: `{"email":"tok@example.com","password":"wrong"}`, headers: []string{"Authorization: Bearer garbage"}, status: 401, want: bodyBadCreds},
		{name: "no-slash/differs", path: "/api/token", body: `{"email":"tok@example.com","password":"s3cret-pass"}`, status: 200, check: pair},
	})
}

func testRefresh(t *testing.T, e *env) {
	e.t = t
	e.register("Ref", "ref@example.com", "s3cret-pass")
	access, refresh := e.login("ref@example.com", "s3cret-pass")
	var rotated string
	runRows(t, e, []row{
		{name: "valid-rotates", path: "/api/token/refresh/", body: `{"refresh":"` + refresh + `"}`, status: 200, check: func(t *testing.T, r response) {
			if !strings.HasPrefix(r.body, `{"access":"`) {
				t.Errorf("order access, refresh: %s", r.body)
			}
			rotated = r.json(t)["refresh"].(string)
			if rotated == refresh {
				t.Error("refresh token not rotated")
			}
		}},
		{name: "garbage", path: "/api/token/refresh/", body: `{"refresh":"garbage"}`, status: 401, want: bodyInvalid},
		{name: "access-as-refresh", path: "/api/token/refresh/", body: `{"refresh":"` + access + `"}`, status: 401, want: bodyWrongType},
		{name: "tampered", path: "/api/token/refresh/", body: `{"refresh":"` + tamper(refresh) + `"}`, status: 401, want: bodyInvalid},
		{name: "empty-object", path: "/api/token/refresh/", body: `{}`, status: 400, want: `{"refresh":["This field is required."]}`},
		{name: "blank", path: "/api/token/refresh/", body: `{"refresh":""}`, status: 400, want: `{"refresh":["This field may not be blank."]}`},
		{name: "get", method: "GET", path: "/api/token/refresh/", status: 405, want: `{"detail":"Method \"GET\" not allowed."}`},
	})

	t.Run("reuse-after-grace-revokes-family/differs", func(t *testing.T) {
		e.t = t
		_, r1 := e.login("ref@example.com", "s3cret-pass")
		r := e.post("/api/token/refresh/", `{"refresh":"`+r1+`"}`)
		r2 := r.json(t)["refresh"].(string)
		e.clock.Advance(11 * time.Second) // past the 10 s grace window
		if r := e.post("/api/token/refresh/", `{"refresh":"`+r1+`"}`); r.status != 401 || r.body != bodyBlacklisted {
			t.Fatalf("reuse: %d %s", r.status, r.body)
		}
		if r := e.post("/api/token/refresh/", `{"refresh":"`+r2+`"}`); r.status != 401 || r.body != bodyBlacklisted {
			t.Fatalf("successor after reuse: %d %s (the family must be revoked)", r.status, r.body)
		}
	})
	t.Run("grace-returns-same-successor/differs", func(t *testing.T) {
		e.t = t
		_, r1 := e.login("ref@example.com", "s3cret-pass")
		a := e.post("/api/token/refresh/", `{"refresh":"`+r1+`"}`).json(t)
		e.clock.Advance(2 * time.Second)
		b := e.post("/api/token/refresh/", `{"refresh":"`+r1+`"}`)
		if b.status != 200 {
			t.Fatalf("second tab: %d %s", b.status, b.body)
		}
		if b.json(t)["refresh"] != a["refresh"] {
			t.Error("the grace answer forked the family (a different refresh token)")
		}
	})
	t.Run("inactive-user-cannot-refresh/differs", func(t *testing.T) {
		e.t = t
		e.register("Gone", "gone@example.com", "s3cret-pass")
		_, r1 := e.login("gone@example.com", "s3cret-pass")
		u := userRow(t, e.store, "gone@example.com")
		if err := e.store.SetUserActive(context.Background(), u.ID, false); err != nil {
			t.Fatal(err)
		}
		r := e.post("/api/token/refresh/", `{"refresh":"`+r1+`"}`)
		if r.status != 401 || r.body != `{"detail":"No active account found for the given token.","code":"no_active_account"}` {
			t.Fatalf("inactive refresh: %d %s", r.status, r.body)
		}
		if err := e.store.DeleteUser(context.Background(), u.ID); err != nil {
			t.Fatal(err)
		}
		if r := e.post("/api/token/refresh/", `{"refresh":"`+r1+`"}`); r.status != 401 {
			t.Fatalf("deleted refresh: %d %s", r.status, r.body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		e.t = t
		_, r1 := e.login("ref@example.com", "s3cret-pass")
		e.clock.Advance(25 * time.Hour)
		if r := e.post("/api/token/refresh/", `{"refresh":"`+r1+`"}`); r.status != 401 || r.body != bodyInvalid {
			t.Fatalf("expired refresh: %d %s", r.status, r.body)
		}
	})
}

func testVerify(t *testing.T, e *env) {
	e.t = t
	access, refresh := e.login("ref@example.com", "s3cret-pass")
	runRows(t, e, []row{
		{name: "access", path: "/api/token/verify/", body: `{"token":"` + access + `"}`, status: 200, want: `{}`},
		{name: "refresh", path: "/api/token/verify/", body: `{"token":"` + refresh + `"}`, status: 200, want: `{}`},
		{name: "garbage", path: "/api/token/verify/", body: `{"token":"garbage"}`, status: 401, want: bodyInvalid},
		{name: "tampered", path: "/api/token/verify/", body: `{"token":"` + tamper(access) + `"}`, status: 401, want: bodyInvalid},
		{name: "blank", path: "/api/token/verify/", body: `{"token":""}`, status: 400, want: `{"token":["This field may not be blank."]}`},
		{name: "missing", path: "/api/token/verify/", body: `{}`, status: 400, want: `{"token":["This field is required."]}`},
		{name: "alg-none", path: "/api/token/verify/", body: `{"token":"` + algNone(t, access) + `"}`, status: 401, want: bodyInvalid},
	})
	t.Run("blacklisted-refresh/differs", func(t *testing.T) {
		e.t = t
		e.post("/api/token/refresh/", `{"refresh":"`+refresh+`"}`)
		e.clock.Advance(11 * time.Second)
		if r := e.post("/api/token/verify/", `{"token":"`+refresh+`"}`); r.status != 401 || r.body != bodyBlacklisted {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("expired-access", func(t *testing.T) {
		e.t = t
		a, _ := e.login("ref@example.com", "s3cret-pass")
		e.clock.Advance(6 * time.Minute)
		if r := e.post("/api/token/verify/", `{"token":"`+a+`"}`); r.status != 401 || r.body != bodyInvalid {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

// algNone re-encodes a token's payload under {"alg":"none"} with no signature.
func algNone(t *testing.T, jwt string) string {
	parts := strings.Split(jwt, ".")
	return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
}

func testLoggedUser(t *testing.T, e *env) {
	e.t = t
	e.register("Lu", "lu@example.com", "s3cret-pass")
	access, refresh := e.login("lu@example.com", "s3cret-pass")
	u := userRow(t, e.store, "lu@example.com")
	userBody := fmt.Sprintf(`{"id":%d,"name":"Lu","email":"lu@example.com","is_active":true}`, u.ID)
	runRows(t, e, []row{
		{name: "absent", method: "GET", path: "/api/logged-user/", status: 401, want: bodyNotProvided},
		{name: "valid", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + access}, status: 200, want: userBody},
		{name: "two-spaces", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer  " + access}, status: 200, want: userBody},
		{name: "garbage", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer garbage"}, status: 401, want: bodyGivenToken},
		{name: "tampered", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + tamper(access)}, status: 401, want: bodyGivenToken},
		{name: "alg-none", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + algNone(t, access)}, status: 401, want: bodyGivenToken},
		{name: "refresh-token", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + refresh}, status: 401, want: bodyGivenWrong},
		{name: "token-scheme", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Token x"}, status: 401, want: bodyNotProvided},
		{name: "jwt-scheme", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: JWT " + access}, status: 401, want: bodyNotProvided},
		{name: "lowercase-bearer", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: bearer " + access}, status: 401, want: bodyNotProvided},
		{name: "bearer-alone", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer"}, status: 401, want: bodyBadHeader},
		{name: "bearer-extra", method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + access + " extra"}, status: 401, want: bodyBadHeader},
		{name: "post-without-token", method: "POST", path: "/api/logged-user/", status: 401, want: bodyNotProvided},
		{name: "options-without-token", method: "OPTIONS", path: "/api/logged-user/", status: 401, want: bodyNotProvided},
		{name: "post-with-token", method: "POST", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + access}, status: 405,
			want: `{"detail":"Method \"POST\" not allowed."}`, check: func(t *testing.T, r response) {
				if r.header.Get("Allow") != "GET, HEAD, OPTIONS" {
					t.Errorf("Allow %q", r.header.Get("Allow"))
				}
			}},
		{name: "no-slash/differs", method: "GET", path: "/api/logged-user", headers: []string{"Authorization: Bearer " + access}, status: 200, want: userBody},
	})
	t.Run("inactive-then-deleted", func(t *testing.T) {
		e.t = t
		ctx := context.Background()
		if err := e.store.SetUserActive(ctx, u.ID, false); err != nil {
			t.Fatal(err)
		}
		if r := e.do("GET", "/api/logged-user/", "", "Authorization: Bearer "+access); r.status != 401 || r.body != `{"detail":"User is inactive","code":"user_inactive"}` {
			t.Errorf("inactive: %d %s", r.status, r.body)
		}
		if err := e.store.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if r := e.do("GET", "/api/logged-user/", "", "Authorization: Bearer "+access); r.status != 401 || r.body != `{"detail":"User not found","code":"user_not_found"}` {
			t.Errorf("deleted: %d %s", r.status, r.body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		e.t = t
		e.register("Lu2", "lu2@example.com", "s3cret-pass")
		a, _ := e.login("lu2@example.com", "s3cret-pass")
		e.clock.Advance(5*time.Minute + 31*time.Second) // past exp and the 30 s leeway
		if r := e.do("GET", "/api/logged-user/", "", "Authorization: Bearer "+a); r.status != 401 || r.body != bodyGivenToken {
			t.Errorf("expired: %d %s", r.status, r.body)
		}
	})
}

func testPaths(t *testing.T, e *env) {
	runRows(t, e, []row{
		{name: "unknown-api-path/differs", method: "GET", path: "/api/nope/", status: 404, want: `{"detail":"Not found."}`},
		{name: "root/differs", method: "GET", path: "/", status: 404, want: `{"detail":"Not found."}`},
		{name: "no-prefix/differs", path: "/token/", body: `{}`, status: 404, want: `{"detail":"Not found."}`},
		{name: "healthz", method: "GET", path: "/healthz", status: 200, want: `{"status":"ok"}`},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, want: `{"status":"ready"}`},
		{name: "jwks", method: "GET", path: "/.well-known/jwks.json", status: 200, check: func(t *testing.T, r response) {
			keys := r.json(t)["keys"].([]any)
			algs := map[any]int{}
			for _, k := range keys {
				k := k.(map[string]any)
				if k["kid"] == nil || k["use"] != "sig" || k["d"] != nil {
					t.Errorf("key %v", k)
				}
				algs[k["alg"]]++
			}
			// The active and the next key of the access ring (RS256); the
			// refresh ring's EdDSA keys verify only inside idp, never published.
			if algs["RS256"] != 2 || algs["EdDSA"] != 0 || len(keys) != 2 {
				t.Errorf("keys by alg %v", algs)
			}
			if cc := r.header.Get("Cache-Control"); cc != "public, max-age=300, must-revalidate" {
				t.Errorf("Cache-Control %q", cc)
			}
			etag := r.header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if r2 := e.do("GET", "/.well-known/jwks.json", "", "If-None-Match: "+etag); r2.status != 304 || r2.body != "" {
				t.Errorf("conditional GET: %d %q", r2.status, r2.body)
			}
		}},
		{name: "security-headers", method: "GET", path: "/healthz", status: 200, check: func(t *testing.T, r response) {
			for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
				if r.header.Get(h) != v {
					t.Errorf("%s %q", h, r.header.Get(h))
				}
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no request id")
			}
		}},
	})
}

// TestTokenFormat checks the decoded tokens against DESIGN.md § Tokens and
// what a SimpleJWT resource server needs (contract §10).
func TestTokenFormat(t *testing.T) {
	e := newEnv(t, storagetest.SQLite(t))
	e.register("Fmt", "fmt@example.com", "s3cret-pass")
	access, refresh := e.login("fmt@example.com", "s3cret-pass")
	u := userRow(t, e.store, "fmt@example.com")

	h := header(t, access)
	if h["alg"] != "RS256" || h["typ"] != "at+jwt" || h["kid"] == nil {
		t.Errorf("access header %v", h)
	}
	c := claims(t, access)
	if c["iss"] != "http://idp.test" || c["sub"] != fmt.Sprint(u.ID) || c["token_type"] != "access" ||
		c["user_id"] != float64(u.ID) || c["email"] != "fmt@example.com" {
		t.Errorf("access claims %v", c)
	}
	if jti, _ := c["jti"].(string); len(jti) != 32 || strings.ToLower(jti) != jti {
		t.Errorf("jti %q: want 32 lowercase hex", jti)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 300 || time.Unix(int64(iat), 0).After(e.clock.Now()) {
		t.Errorf("access lifetime %v (iat %v)", exp-iat, iat)
	}
	if _, ok := c["aud"]; ok {
		t.Errorf("aud set by default: %v", c["aud"])
	}
	rh, rc := header(t, refresh), claims(t, refresh)
	if rh["typ"] == h["typ"] || rc["token_type"] != "refresh" || rc["fid"] == nil || rc["aud"] != "http://idp.test" {
		t.Errorf("refresh header %v claims %v", rh, rc)
	}
	if exp, iat := rc["exp"].(float64), rc["iat"].(float64); exp-iat != 86400 {
		t.Errorf("refresh lifetime %v", exp-iat)
	}
	if rc["jti"] == c["jti"] {
		t.Error("access and refresh share a jti")
	}
}

// TestConcurrentRegistration: 20 identical registrations at once give one
// 200 and nineteen 400s with the email error, and one row (the tutorial
// app answered one of them with a 500).
func TestConcurrentRegistration(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store)
		const n = 20
		body := `{"name":"Race","email":"race@example.com","password":"s3cret-pass"}`
		var wg sync.WaitGroup
		results := make([]response, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = e.post("/api/register/", body)
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, r := range results {
			switch {
			case r.status == 200:
				ok++
			case r.status == 400 && r.body == `{"email":["User with this email already exists."]}`:
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.body)
			}
		}
		if ok != 1 {
			t.Errorf("%d registrations succeeded, want 1", ok)
		}
		list, err := store.ListUsers(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Errorf("%d rows, want 1", len(list))
		}
	})
}

// TestTutorialClient runs the tutorial client's flow unchanged:
// register → token → logged-user → refresh → verify.
func TestTutorialClient(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store)
		reg := e.register("Client", "client@example.com", "s3cret-pass").json(t)
		access, refresh := e.login("client@example.com", "s3cret-pass")
		me := e.do("GET", "/api/logged-user/", "", "Authorization: Bearer "+access)
		if me.status != 200 || me.json(t)["id"] != reg["id"] {
			t.Fatalf("logged-user %d %s", me.status, me.body)
		}
		r := e.post("/api/token/refresh/", `{"refresh":"`+refresh+`"}`)
		if r.status != 200 {
			t.Fatalf("refresh %d %s", r.status, r.body)
		}
		var p struct{ Access, Refresh string }
		if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.Access == "" || p.Refresh == "" {
			t.Fatalf("refresh body %s", r.body)
		}
		for _, tok := range []string{p.Access, p.Refresh} {
			if v := e.post("/api/token/verify/", `{"token":"`+tok+`"}`); v.status != 200 || v.body != "{}" {
				t.Fatalf("verify %d %s", v.status, v.body)
			}
		}
		if me := e.do("GET", "/api/logged-user/", "", "Authorization: Bearer "+p.Access); me.status != 200 {
			t.Fatalf("logged-user with the refreshed access token: %d %s", me.status, me.body)
		}
	})
}
