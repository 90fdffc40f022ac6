package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// Bodies of the contract (seed-api-contract.md §3–§6).
const (
	bodyServerError  = `{"detail":"A server error occurred."}`
	bodyNotProvided  = `{"detail":"Authentication credentials were not provided."}`
	bodyBadHeader    = `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`
	bodyGivenInvalid = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
	bodyGivenWrong   = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`
	bodyNoUserID     = `{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}`
	bodyUserNotFound = `{"detail":"User not found","code":"user_not_found"}`
	bodyUserInactive = `{"detail":"User is inactive","code":"user_inactive"}`
	bodyInvalid      = `{"detail":"Token is invalid or expired","code":"token_not_valid"}`
	bodyWrongType    = `{"detail":"Token has wrong type","code":"token_not_valid"}`
	bodyBlacklisted  = `{"detail":"Token is blacklisted","code":"token_not_valid"}`
	bodyNoActive     = `{"detail":"No active account found for the given token.","code":"no_active_account"}`
	bodyBadCreds     = `{"detail":"No active account found with the given credentials"}`
	bodyRequired3    = `{"name":["This field is required."],"email":["This field is required."],"password":["This field is required."]}`
	bodyAlice        = `{"id":1,"name":"Alice","email":"alice@example.com","is_active":true}`
)

// handlerCase is one request through the whole Echo stack over fakes.
type handlerCase struct {
	name   string
	setup  func(f *fixture)
	req    req
	status int
	want   string // exact body
	allow  string // exact Allow header, when set
	check  func(t *testing.T, f *fixture, r response)
}

func runHandlerCases(t *testing.T, cases []handlerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			r := f.do(t, tc.req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if r.body != tc.want {
				t.Errorf("body\n got  %s\n want %s", r.body, tc.want)
			}
			if tc.allow != "" && r.header.Get("Allow") != tc.allow {
				t.Errorf("Allow %q, want %q", r.header.Get("Allow"), tc.allow)
			}
			method := tc.req.method
			if method == "" {
				method = http.MethodPost
			}
			checkInvariants(t, r, method)
			if tc.check != nil {
				tc.check(t, f, r)
			}
		})
	}
}

func fieldErrors(kv ...string) *users.ValidationError {
	ve := &users.ValidationError{}
	for i := 0; i < len(kv); i += 2 {
		ve.Add(kv[i], kv[i+1])
	}
	return ve
}

func validateReturns(ve *users.ValidationError) func(*fixture) {
	return func(f *fixture) {
		f.users.validate = func(users.Registration) *users.ValidationError { return ve }
	}
}

func notRegistered(t *testing.T, f *fixture, _ response) {
	if n := f.users.called("Register"); n != 0 {
		t.Errorf("Register called %d times", n)
	}
}

func registeredWith(want users.Registration) func(t *testing.T, f *fixture, r response) {
	return func(t *testing.T, f *fixture, _ response) {
		if f.users.got != want {
			t.Errorf("the core validated %+v, want %+v", f.users.got, want)
		}
	}
}

func TestRegister(t *testing.T) {
	const valid = `{"name":"Alice","email":"alice@example.com","password":"s3cret-pass"}`
	const created = `{"id":7,"name":"Alice","email":"alice@example.com","is_active":true}`
	p := "/api/register/"
	runHandlerCases(t, []handlerCase{
		{name: "valid", req: req{path: p, body: valid}, status: 200, want: created, allow: allowPost,
			check: func(t *testing.T, f *fixture, r response) {
				registeredWith(users.Registration{Name: "Alice", Email: "alice@example.com", Password: "s3cret-pass"})(t, f, r)
				if n := f.users.called("Register"); n != 1 {
					t.Errorf("Register called %d times", n)
				}
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
			}},
		{name: "no-trailing-slash", req: req{path: "/api/register", body: valid}, status: 200, want: created},
		{name: "values-reach-the-core-untrimmed", req: req{path: p, body: `{"name":" A ","email":" a@b.c ","password":"  padded-pass  "}`}, status: 200,
			want:  `{"id":7,"name":" A ","email":" a@b.c ","is_active":true}`,
			check: registeredWith(users.Registration{Name: " A ", Email: " a@b.c ", Password: "  padded-pass  "})},
		{name: "numbers-reach-the-core-as-text", req: req{path: p, body: `{"name":1,"email":"a@b.c","password":12345678}`}, status: 200,
			want:  `{"id":7,"name":"1","email":"a@b.c","is_active":true}`,
			check: registeredWith(users.Registration{Name: "1", Email: "a@b.c", Password: "12345678"})},
		{name: "extra-and-privilege-fields-ignored", req: req{path: p, body: `{"name":"Alice","email":"alice@example.com","password":"s3cret-pass","id":999,"is_staff":true,"is_active":false}`},
			status: 200, want: created},
		{name: "form-encoded", req: req{path: p, body: "name=Form&email=form%40example.com&password=x1234567", headers: []string{"Content-Type: application/x-www-form-urlencoded"}},
			status: 200, want: `{"id":7,"name":"Form","email":"form@example.com","is_active":true}`},

		// Decoding errors, merged with the core's in the order name, email, password.
		{name: "all-missing", setup: validateReturns(fieldErrors("name", "This field may not be blank.", "email", "This field may not be blank.", "password", "This field may not be blank.")),
			req: req{path: p, body: `{}`}, status: 400, want: bodyRequired3, check: notRegistered},
		{name: "empty-body", req: req{path: p, headers: []string{"Content-Type:"}}, status: 400, want: bodyRequired3, check: notRegistered},
		{name: "password-missing", req: req{path: p, body: `{"name":"B","email":"b@example.com"}`}, status: 400,
			want: `{"password":["This field is required."]}`, check: notRegistered},
		{name: "nulls", req: req{path: p, body: `{"name":null,"email":null,"password":null}`}, status: 400,
			want: `{"name":["This field may not be null."],"email":["This field may not be null."],"password":["This field may not be null."]}`},
		{name: "not-strings", req: req{path: p, body: `{"name":{"a":1},"email":["x"],"password":false}`}, status: 400,
			want: `{"name":["Not a valid string."],"email":["Not a valid string."],"password":["Not a valid string."]}`},
		{name: "null-characters", req: req{path: p, body: `{"name":"A\u0000","email":"a@b.c","password":"s3cret\u0000"}`}, status: 400,
			want:  `{"name":["Null characters are not allowed."],"password":["Null characters are not allowed."]}`,
			check: registeredWith(users.Registration{Name: "", Email: "a@b.c", Password: ""})},
		{name: "merge/type-errors-win-over-core-per-field",
			setup: validateReturns(fieldErrors(
				"password", "This field may not be blank.",
				"email", "Enter a valid email address.",
				"name", "This field may not be blank.")),
			req: req{path: p, body: `{"name":null,"email":"bad","password":true}`}, status: 400,
			want:  `{"name":["This field may not be null."],"email":["Enter a valid email address."],"password":["Not a valid string."]}`,
			check: registeredWith(users.Registration{Name: "", Email: "bad", Password: ""})},
		{name: "merge/core-fields-put-in-serializer-order",
			setup: validateReturns(fieldErrors(
				"password", "This password is too common.",
				"password", "This password is entirely numeric.",
				"name", "Ensure this field has no more than 100 characters.")),
			req: req{path: p, body: valid}, status: 400,
			want: `{"name":["Ensure this field has no more than 100 characters."],"password":["This password is too common.","This password is entirely numeric."]}`, check: notRegistered},
		{name: "merge/type-error-first-core-after",
			setup: validateReturns(fieldErrors("password", "This password is too short. It must contain at least 8 characters.", "email", "Enter a valid email address.")),
			req:   req{path: p, body: `{"email":"x","password":"1"}`}, status: 400,
			want: `{"name":["This field is required."],"email":["Enter a valid email address."],"password":["This password is too short. It must contain at least 8 characters."]}`},
		{name: "merge/only-core", setup: validateReturns(fieldErrors("email", "Enter a valid email address.")),
			req: req{path: p, body: `{"name":"A","email":"not-an-email","password":"s3cret-pass"}`}, status: 400,
			want: `{"email":["Enter a valid email address."]}`, check: notRegistered},

		// What Register answers.
		{name: "duplicate-email", setup: func(f *fixture) {
			f.users.register = func(users.Registration) (storage.User, error) {
				return storage.User{}, fieldErrors("email", "User with this email already exists.")
			}
		}, req: req{path: p, body: valid}, status: 400, want: `{"email":["User with this email already exists."]}`},
		{name: "wrapped-validation-error", setup: func(f *fixture) {
			f.users.register = func(users.Registration) (storage.User, error) {
				return storage.User{}, fmt.Errorf("create user: %w", fieldErrors("email", "User with this email already exists."))
			}
		}, req: req{path: p, body: valid}, status: 400, want: `{"email":["User with this email already exists."]}`},
		{name: "storage-failure-500-without-detail", setup: func(f *fixture) {
			f.users.register = func(users.Registration) (storage.User, error) {
				return storage.User{}, errors.New("insert: " + secret)
			}
		}, req: req{path: p, body: valid}, status: 500, want: bodyServerError},

		// Body problems.
		{name: "malformed-json", req: req{path: p, body: `{"name": `}, status: 400,
			want: `{"detail":"JSON parse error - Expecting value: line 1 column 10 (char 9)"}`, allow: allowPost},
		{name: "text-plain", req: req{path: p, body: "hello", headers: []string{"Content-Type: text/plain"}}, status: 415,
			want: `{"detail":"Unsupported media type \"text/plain\" in request."}`, allow: allowPost},
		{name: "no-content-type", req: req{path: p, body: valid, headers: []string{"Content-Type:"}}, status: 415,
			want: `{"detail":"Unsupported media type \"\" in request."}`},
		{name: "not-an-object", req: req{path: p, body: `[1,2]`}, status: 400,
			want: `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{name: "too-large", req: req{path: p, body: `{"name":"` + strings.Repeat("x", 64<<10) + `"}`}, status: 413,
			want: `{"detail":"Request body is too large."}`, check: notRegistered},

		// DRF's default authentication still runs on register.
		{name: "bearer-garbage-refused", req: req{path: p, body: valid, headers: []string{"Authorization: Bearer garbage"}}, status: 401,
			want: bodyGivenInvalid, check: func(t *testing.T, f *fixture, r response) {
				notRegistered(t, f, r)
				if n := f.users.called("ValidateRegistration"); n != 0 {
					t.Errorf("ValidateRegistration called %d times", n)
				}
			}},
		{name: "bearer-refused-before-method-check", req: req{method: "GET", path: p, headers: []string{"Authorization: Bearer garbage"}}, status: 401, want: bodyGivenInvalid},
		{name: "bearer-alone-refused", req: req{path: p, body: valid, headers: []string{"Authorization: Bearer"}}, status: 401, want: bodyBadHeader, check: notRegistered},
		{name: "bearer-of-inactive-user-refused", req: req{path: p, body: valid, headers: []string{"Authorization: Bearer " + tokInactive}}, status: 401, want: bodyUserInactive, check: notRegistered},
		{name: "bearer-verify-failure-500", req: req{path: p, body: valid, headers: []string{"Authorization: Bearer " + tokInternal}}, status: 500, want: bodyServerError, check: notRegistered},
		{name: "valid-bearer-accepted", req: req{path: p, body: valid, headers: []string{"Authorization: Bearer " + tokAlice}}, status: 200, want: created},
		{name: "other-scheme-ignored", req: req{path: p, body: valid, headers: []string{"Authorization: Token x"}}, status: 200, want: created},
		{name: "lower-case-bearer-ignored", req: req{path: p, body: valid, headers: []string{"Authorization: bearer garbage"}}, status: 200, want: created},
	})
}

func TestObtainToken(t *testing.T) {
	p := "/api/token/"
	const pair = `{"refresh":"R1","access":"A1"}`
	formCT := "Content-Type: application/x-www-form-urlencoded"
	runHandlerCases(t, []handlerCase{
		{name: "valid", req: req{path: p, body: `{"email":"alice@example.com","password":"s3cret-pass"}`}, status: 200, want: pair, allow: allowPost,
			check: func(t *testing.T, f *fixture, r response) {
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
			}},
		{name: "no-trailing-slash", req: req{path: "/api/token", body: `{"email":"alice@example.com","password":"s3cret-pass"}`}, status: 200, want: pair},
		{name: "form-encoded", req: req{path: p, body: "email=alice%40example.com&password=s3cret-pass", headers: []string{formCT}}, status: 200, want: pair},
		{name: "wrong-password", req: req{path: p, body: `{"email":"alice@example.com","password":"wrong"}`}, status: 401, want: bodyBadCreds, allow: allowPost},
		{name: "empty-object", req: req{path: p, body: `{}`}, status: 400, want: `{"email":["This field is required."],"password":["This field is required."]}`},
		{name: "password-missing", req: req{path: p, body: `{"email":"alice@example.com"}`}, status: 400, want: `{"password":["This field is required."]}`},
		{name: "empty-password", req: req{path: p, body: `{"email":"alice@example.com","password":""}`}, status: 400, want: `{"password":["This field may not be blank."]}`},
		{name: "whitespace-email", req: req{path: p, body: `{"email":" \t ","password":"x"}`}, status: 400, want: `{"email":["This field may not be blank."]}`},
		{name: "username-instead", req: req{path: p, body: `{"username":"alice@example.com","password":"s3cret-pass"}`}, status: 400, want: `{"email":["This field is required."]}`},
		{name: "nulls-and-non-strings", req: req{path: p, body: `{"email":null,"password":[]}`}, status: 400,
			want: `{"email":["This field may not be null."],"password":["Not a valid string."]}`},
		{name: "numbers-are-credentials", req: req{path: p, body: `{"email":1,"password":2}`}, status: 401, want: bodyBadCreds},
		{name: "malformed-json", req: req{path: p, body: `{"email": `}, status: 400, want: `{"detail":"JSON parse error - Expecting value: line 1 column 11 (char 10)"}`},
		{name: "bearer-header-ignored", req: req{path: p, body: `{"email":"alice@example.com","password":"wrong"}`, headers: []string{"Authorization: Bearer garbage"}},
			status: 401, want: bodyBadCreds, check: func(t *testing.T, f *fixture, r response) {
				if n := f.tokens.called("VerifyAccess"); n != 0 {
					t.Errorf("VerifyAccess called %d times", n)
				}
			}},
		{name: "bad-bearer-header-ignored", req: req{path: p, body: `{"email":"alice@example.com","password":"s3cret-pass"}`, headers: []string{"Authorization: Bearer"}}, status: 200, want: pair},
		{name: "authenticate-failure-500", setup: func(f *fixture) {
			f.users.authenticate = func(string, string) (storage.User, error) { return storage.User{}, errors.New("db: " + secret) }
		}, req: req{path: p, body: `{"email":"alice@example.com","password":"s3cret-pass"}`}, status: 500, want: bodyServerError},
		{name: "login-failure-500", setup: func(f *fixture) {
			f.tokens.login = func(storage.User) (tokens.Pair, error) { return tokens.Pair{}, errors.New("sign: " + secret) }
		}, req: req{path: p, body: `{"email":"alice@example.com","password":"s3cret-pass"}`}, status: 500, want: bodyServerError},
		{name: "credentials-reach-the-core-untrimmed", setup: func(f *fixture) {
			f.users.authenticate = func(email, password string) (storage.User, error) {
				if email != " alice@example.com " || password != "  padded-pass  " {
					return storage.User{}, users.ErrInvalidCredentials
				}
				return alice, nil
			}
		}, req: req{path: p, body: `{"email":" alice@example.com ","password":"  padded-pass  "}`}, status: 200, want: pair},
	})
}

func TestRefreshToken(t *testing.T) {
	p := "/api/token/refresh/"
	refreshFails := func(err error) func(*fixture) {
		return func(f *fixture) {
			f.tokens.refresh = func(string) (tokens.Pair, error) { return tokens.Pair{}, err }
		}
	}
	runHandlerCases(t, []handlerCase{
		{name: "valid", req: req{path: p, body: `{"refresh":"good-refresh"}`}, status: 200, want: `{"access":"A2","refresh":"R2"}`, allow: allowPost},
		{name: "no-trailing-slash", req: req{path: "/api/token/refresh", body: `{"refresh":"good-refresh"}`}, status: 200, want: `{"access":"A2","refresh":"R2"}`},
		{name: "form-encoded", req: req{path: p, body: "refresh=good-refresh", headers: []string{"Content-Type: application/x-www-form-urlencoded"}}, status: 200, want: `{"access":"A2","refresh":"R2"}`},
		{name: "garbage", req: req{path: p, body: `{"refresh":"garbage"}`}, status: 401, want: bodyInvalid, allow: allowPost},
		{name: "wrong-type", setup: refreshFails(wrapped(tokens.ErrWrongType)), req: req{path: p, body: `{"refresh":"x"}`}, status: 401, want: bodyWrongType},
		{name: "blacklisted", setup: refreshFails(wrapped(tokens.ErrBlacklisted)), req: req{path: p, body: `{"refresh":"x"}`}, status: 401, want: bodyBlacklisted},
		{name: "no-user-id", setup: refreshFails(wrapped(tokens.ErrNoUserID)), req: req{path: p, body: `{"refresh":"x"}`}, status: 401, want: bodyNoUserID},
		{name: "no-active-account", setup: refreshFails(wrapped(tokens.ErrNoActiveAccount)), req: req{path: p, body: `{"refresh":"x"}`}, status: 401, want: bodyNoActive},
		{name: "internal-500", setup: refreshFails(errors.New("families: " + secret)), req: req{path: p, body: `{"refresh":"x"}`}, status: 500, want: bodyServerError},
		{name: "missing", req: req{path: p, body: `{}`}, status: 400, want: `{"refresh":["This field is required."]}`},
		{name: "blank", req: req{path: p, body: `{"refresh":""}`}, status: 400, want: `{"refresh":["This field may not be blank."]}`},
		{name: "whitespace", req: req{path: p, body: `{"refresh":"  "}`}, status: 400, want: `{"refresh":["This field may not be blank."]}`},
		{name: "null", req: req{path: p, body: `{"refresh":null}`}, status: 400, want: `{"refresh":["This field may not be null."]}`},
		{name: "header-ignored", req: req{path: p, body: `{"refresh":"good-refresh"}`, headers: []string{"Authorization: Bearer garbage"}}, status: 200, want: `{"access":"A2","refresh":"R2"}`},
	})
}

func TestVerifyToken(t *testing.T) {
	p := "/api/token/verify/"
	verifyFails := func(err error) func(*fixture) {
		return func(f *fixture) { f.tokens.verify = func(string) error { return err } }
	}
	runHandlerCases(t, []handlerCase{
		{name: "valid", req: req{path: p, body: `{"token":"good-token"}`}, status: 200, want: `{}`, allow: allowPost},
		{name: "no-trailing-slash", req: req{path: "/api/token/verify", body: `{"token":"good-token"}`}, status: 200, want: `{}`},
		{name: "garbage", req: req{path: p, body: `{"token":"garbage"}`}, status: 401, want: bodyInvalid},
		{name: "blacklisted-is-401/differs", setup: verifyFails(wrapped(tokens.ErrBlacklisted)), req: req{path: p, body: `{"token":"x"}`}, status: 401, want: bodyBlacklisted},
		{name: "wrong-type", setup: verifyFails(wrapped(tokens.ErrWrongType)), req: req{path: p, body: `{"token":"x"}`}, status: 401, want: bodyWrongType},
		{name: "internal-500", setup: verifyFails(fmt.Errorf("verify: %w", errors.New(secret))), req: req{path: p, body: `{"token":"x"}`}, status: 500, want: bodyServerError},
		{name: "blank", req: req{path: p, body: `{"token":""}`}, status: 400, want: `{"token":["This field may not be blank."]}`},
		{name: "missing", req: req{path: p, body: `{}`}, status: 400, want: `{"token":["This field is required."]}`},
		{name: "not-a-string", req: req{path: p, body: `{"token":{"a":"b"}}`}, status: 400, want: `{"token":["Not a valid string."]}`},
		{name: "header-ignored", req: req{path: p, body: `{"token":"good-token"}`, headers: []string{"Authorization: Bearer"}}, status: 200, want: `{}`},
	})
}

// TestAuthenticate runs every Authorization header form of contract §6
// through GET logged-user/.
func TestAuthenticate(t *testing.T) {
	p := "/api/logged-user/"
	get := func(headers ...string) req { return req{method: "GET", path: p, headers: headers} }
	getFails := func(err error) func(*fixture) {
		return func(f *fixture) { f.users.get = func(int64) (storage.User, error) { return storage.User{}, err } }
	}
	verifyFails := func(err error) func(*fixture) {
		return func(f *fixture) {
			f.tokens.verifyAccess = func(string) (tokens.AccessClaims, error) { return tokens.AccessClaims{}, err }
		}
	}
	runHandlerCases(t, []handlerCase{
		{name: "absent", req: get(), status: 401, want: bodyNotProvided},
		{name: "empty", req: get("Authorization:"), status: 401, want: bodyNotProvided},
		{name: "whitespace-only", req: get("Authorization:  \t "), status: 401, want: bodyNotProvided},
		{name: "valid", req: get("Authorization: Bearer " + tokAlice), status: 200, want: bodyAlice, allow: allowGetHeadOption},
		{name: "two-spaces", req: get("Authorization: Bearer  " + tokAlice), status: 200, want: bodyAlice},
		{name: "tab", req: get("Authorization: Bearer\t" + tokAlice), status: 200, want: bodyAlice},
		{name: "tabs-and-spaces", req: get("Authorization: Bearer \t \t" + tokAlice), status: 200, want: bodyAlice},
		{name: "surrounding-whitespace", req: get("Authorization:  Bearer " + tokAlice + " \t"), status: 200, want: bodyAlice},
		{name: "bearer-alone", req: get("Authorization: Bearer"), status: 401, want: bodyBadHeader},
		{name: "bearer-and-space", req: get("Authorization: Bearer  "), status: 401, want: bodyBadHeader},
		{name: "extra-part", req: get("Authorization: Bearer " + tokAlice + " extra"), status: 401, want: bodyBadHeader},
		{name: "extra-part-after-tab", req: get("Authorization: Bearer " + tokAlice + "\textra"), status: 401, want: bodyBadHeader},
		{name: "lower-case-scheme", req: get("Authorization: bearer " + tokAlice), status: 401, want: bodyNotProvided},
		{name: "upper-case-scheme", req: get("Authorization: BEARER " + tokAlice), status: 401, want: bodyNotProvided},
		{name: "token-scheme", req: get("Authorization: Token x"), status: 401, want: bodyNotProvided},
		{name: "jwt-scheme", req: get("Authorization: JWT " + tokAlice), status: 401, want: bodyNotProvided},
		{name: "basic-scheme", req: get("Authorization: Basic YWxpY2U6cHc="), status: 401, want: bodyNotProvided},
		{name: "glued-scheme", req: get("Authorization: Bearer" + tokAlice), status: 401, want: bodyNotProvided},
		{name: "other-scheme-with-extra-parts", req: get("Authorization: Token a b c"), status: 401, want: bodyNotProvided},
		{name: "garbage", req: get("Authorization: Bearer garbage"), status: 401, want: bodyGivenInvalid},
		{name: "invalid-bare-sentinel", setup: verifyFails(tokens.ErrTokenInvalid), req: get("Authorization: Bearer x"), status: 401, want: bodyGivenInvalid},
		{name: "invalid-double-wrapped", setup: verifyFails(fmt.Errorf("verify: %w", wrapped(tokens.ErrTokenInvalid))), req: get("Authorization: Bearer x"), status: 401, want: bodyGivenInvalid},
		{name: "refresh-token-wrong-type", req: get("Authorization: Bearer " + tokRefresh), status: 401, want: bodyGivenWrong},
		{name: "no-user-id", req: get("Authorization: Bearer " + tokNoUserID), status: 401, want: bodyNoUserID},
		{name: "no-user-id-wrapped", setup: verifyFails(wrapped(tokens.ErrNoUserID)), req: get("Authorization: Bearer x"), status: 401, want: bodyNoUserID},
		{name: "verify-internal-error-500", req: get("Authorization: Bearer " + tokInternal), status: 500, want: bodyServerError},
		{name: "verify-context-canceled-500", setup: verifyFails(context.Canceled), req: get("Authorization: Bearer x"), status: 500, want: bodyServerError},
		{name: "user-not-found", req: get("Authorization: Bearer " + tokDeleted), status: 401, want: bodyUserNotFound},
		{name: "user-not-found-bare-sentinel", setup: getFails(storage.ErrNotFound), req: get("Authorization: Bearer " + tokAlice), status: 401, want: bodyUserNotFound},
		{name: "user-inactive", req: get("Authorization: Bearer " + tokInactive), status: 401, want: bodyUserInactive},
		{name: "user-lookup-failure-500", setup: getFails(errors.New("pool closed: " + secret)), req: get("Authorization: Bearer " + tokAlice), status: 500, want: bodyServerError},
		{name: "user-lookup-passes-claimed-id", setup: func(f *fixture) {
			f.tokens.verifyAccess = func(string) (tokens.AccessClaims, error) { return tokens.AccessClaims{UserID: 42}, nil }
			f.users.get = func(id int64) (storage.User, error) {
				if id != 42 {
					return storage.User{}, storage.ErrNotFound
				}
				return storage.User{ID: 42, Name: "Zed", Email: "zed@example.com", IsActive: true}, nil
			}
		}, req: get("Authorization: Bearer x"), status: 200, want: `{"id":42,"name":"Zed","email":"zed@example.com","is_active":true}`},
	})
}

// Any sentinel VerifyAccess may return is a 401, never a 500: a revoked
// access token is a bad token, not a server failure.
func TestAuthenticateEveryTokenSentinelIs401(t *testing.T) {
	for _, sentinel := range []error{tokens.ErrTokenInvalid, tokens.ErrWrongType, tokens.ErrNoUserID, tokens.ErrBlacklisted, tokens.ErrNoActiveAccount} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			f := newFixture(t)
			f.tokens.verifyAccess = func(string) (tokens.AccessClaims, error) { return tokens.AccessClaims{}, wrapped(sentinel) }
			r := f.do(t, req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer x"}})
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s", r)
			}
			checkInvariants(t, r, "GET")
		})
	}
}

// DRF splits the header with bytes.split(): ASCII whitespace only.
func TestAuthenticateSplitsOnASCIIWhitespaceOnly(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer\u00a0" + tokAlice}})
	if r.status != 401 || r.body != bodyNotProvided {
		t.Errorf("%s", r)
	}
}

func TestTokenError(t *testing.T) {
	tests := []struct {
		name     string
		sentinel error
		want     string
	}{
		{"invalid", tokens.ErrTokenInvalid, bodyInvalid},
		{"wrong-type", tokens.ErrWrongType, bodyWrongType},
		{"blacklisted", tokens.ErrBlacklisted, bodyBlacklisted},
		{"no-user-id", tokens.ErrNoUserID, bodyNoUserID},
		{"no-active-account", tokens.ErrNoActiveAccount, bodyNoActive},
	}
	for _, tc := range tests {
		for _, wrap := range []struct {
			name string
			err  error
		}{
			{"bare", tc.sentinel},
			{"reason", wrapped(tc.sentinel)},
			{"reason-wrapped-again", fmt.Errorf("refresh: %w", wrapped(tc.sentinel))},
		} {
			t.Run(tc.name+"/"+wrap.name, func(t *testing.T) {
				err := tokenError(wrap.err)
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%T %v is not an *Error", err, err)
				}
				if e.Status != http.StatusUnauthorized {
					t.Errorf("status %d", e.Status)
				}
				if b := errJSON(t, e); b != tc.want {
					t.Errorf("body\n got  %s\n want %s", b, tc.want)
				}
				if !errors.Is(err, tc.sentinel) {
					t.Error("errors.Is no longer finds the sentinel")
				}
			})
		}
	}
	for _, err := range []error{errors.New(secret), context.DeadlineExceeded, fmt.Errorf("x: %w", storage.ErrNotFound)} {
		t.Run("internal/"+err.Error(), func(t *testing.T) {
			var e *Error
			if !errors.As(tokenError(err), &e) || e.Status != 500 || errJSON(t, e) != bodyServerError {
				t.Errorf("got %#v", e)
			}
			if !errors.Is(e, err) {
				t.Error("cause lost for the log")
			}
		})
	}
}

func TestLoggedUserMethods(t *testing.T) {
	auth := "Authorization: Bearer " + tokAlice
	cases := []handlerCase{
		{name: "get", req: req{method: "GET", path: "/api/logged-user/", headers: []string{auth}}, status: 200, want: bodyAlice, allow: allowGetHeadOption},
		{name: "get-no-slash", req: req{method: "GET", path: "/api/logged-user", headers: []string{auth}}, status: 200, want: bodyAlice},
		{name: "head", req: req{method: "HEAD", path: "/api/logged-user/", headers: []string{auth}}, status: 200, want: "", allow: allowGetHeadOption,
			check: func(t *testing.T, f *fixture, r response) {
				if cl := r.header.Get("Content-Length"); cl != fmt.Sprint(len(bodyAlice+"\n")) {
					t.Errorf("Content-Length %q, want the GET body's %d", cl, len(bodyAlice))
				}
			}},
		{name: "options", req: req{method: "OPTIONS", path: "/api/logged-user/", headers: []string{auth}}, status: 200, allow: allowGetHeadOption,
			want: `{"name":"Logged User","description":"The authenticated user.","renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"]}`},
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "TRACE", "PROPFIND"} {
		cases = append(cases,
			handlerCase{name: strings.ToLower(m) + "-with-token", req: req{method: m, path: "/api/logged-user/", headers: []string{auth}}, status: 405,
				want: fmt.Sprintf(`{"detail":"Method \"%s\" not allowed."}`, m), allow: allowGetHeadOption},
			handlerCase{name: strings.ToLower(m) + "-without-token", req: req{method: m, path: "/api/logged-user/"}, status: 401, want: bodyNotProvided})
	}
	cases = append(cases,
		handlerCase{name: "options-without-token", req: req{method: "OPTIONS", path: "/api/logged-user/"}, status: 401, want: bodyNotProvided},
		handlerCase{name: "head-without-token", req: req{method: "HEAD", path: "/api/logged-user/"}, status: 401, want: ""})
	runHandlerCases(t, cases)
}

// Contract §2: Allow is on every DRF answer, 401 included.
func TestAllowOnEvery401(t *testing.T) {
	for _, tc := range []struct {
		r     req
		allow string
	}{
		{req{method: "GET", path: "/api/logged-user/"}, allowGetHeadOption},
		{req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer garbage"}}, allowGetHeadOption},
		{req{method: "GET", path: "/api/logged-user/", headers: []string{"Authorization: Bearer " + tokInactive}}, allowGetHeadOption},
		{req{path: "/api/register/", body: `{}`, headers: []string{"Authorization: Bearer garbage"}}, allowPost},
	} {
		r := newFixture(t).do(t, tc.r)
		if r.status != 401 || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %v: %d Allow %q, want 401 Allow %q", tc.r.method, tc.r.headers, r.status, r.header.Get("Allow"), tc.allow)
		}
	}
}

var postEndpoints = []string{"/api/register/", "/api/register", "/api/token/", "/api/token", "/api/token/refresh/", "/api/token/refresh", "/api/token/verify/", "/api/token/verify"}

func TestPostEndpointsOtherMethods(t *testing.T) {
	var cases []handlerCase
	for _, p := range postEndpoints {
		for _, m := range []string{"GET", "HEAD", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT", "PROPFIND", "REPORT"} {
			want := fmt.Sprintf(`{"detail":"Method \"%s\" not allowed."}`, m)
			tc := handlerCase{name: p + "/" + m, req: req{method: m, path: p}, status: 405, want: want, allow: allowPost}
			if m == "HEAD" {
				tc.want = ""
				tc.check = func(t *testing.T, f *fixture, r response) {
					if cl := r.header.Get("Content-Length"); cl != fmt.Sprint(len(want+"\n")) {
						t.Errorf("Content-Length %q, want %d", cl, len(want))
					}
				}
			}
			cases = append(cases, tc)
		}
	}
	runHandlerCases(t, cases)
}

func TestPostEndpointsUnknownMethod(t *testing.T) {
	for _, p := range postEndpoints {
		r := newFixture(t).do(t, req{method: "FOO", path: p})
		if r.status != 405 || r.body != `{"detail":"Method \"FOO\" not allowed."}` || r.header.Get("Allow") != allowPost {
			t.Errorf("%s: %s Allow %q", p, r, r.header.Get("Allow"))
		}
	}
}

func TestOptionsMetadata(t *testing.T) {
	for _, tc := range []struct{ path, golden string }{
		{"/api/register/", "register"},
		{"/api/register", "register"},
		{"/api/token/", "token"},
		{"/api/token/refresh/", "refresh"},
		{"/api/token/verify/", "verify"},
		{"/api/token/verify", "verify"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			f := newFixture(t)
			// The header is ignored on token endpoints; on register only an
			// invalid bearer would matter.
			r := f.do(t, req{method: "OPTIONS", path: tc.path, headers: []string{"Authorization: Token x"}})
			if r.status != 200 {
				t.Fatalf("%s", r)
			}
			if r.header.Get("Allow") != allowPost {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
			checkInvariants(t, r, "OPTIONS")
			golden(t, "options/"+tc.golden+".json", r.body)
			if n := f.users.called("Register") + f.users.called("Authenticate") + f.tokens.called("Refresh") + f.tokens.called("Verify"); n != 0 {
				t.Errorf("OPTIONS reached the core %d times", n)
			}
		})
	}
	t.Run("token-matches-the-contract-but-renders", func(t *testing.T) {
		// Contract §5, with renders reduced to JSON: idp has no browsable API.
		const want = `{"name":"Token Obtain Pair","description":"Takes a set of user credentials and returns an access and refresh JSON web\ntoken pair to prove the authentication of those credentials.","renders":["application/json"],"parses":["application/json","application/x-www-form-urlencoded","multipart/form-data"],"actions":{"POST":{"email":{"type":"string","required":true,"read_only":false,"label":"Email"},"password":{"type":"string","required":true,"read_only":false,"label":"Password"}}}}`
		r := newFixture(t).do(t, req{method: "OPTIONS", path: "/api/token/"})
		if r.body != want {
			t.Errorf("body\n got  %s\n want %s", r.body, want)
		}
	})
}

func TestAPIPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		path   string
		status int
	}{
		{"", "/token/", 200},
		{"", "/api/token/", 404},
		{"/api/", "/api/token/", 200},
		{"/idp/v1", "/idp/v1/token", 200},
		{"/idp/v1", "/api/token/", 404},
	} {
		t.Run(fmt.Sprintf("%q%s", tc.prefix, tc.path), func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.APIPrefix = tc.prefix })
			r := f.do(t, req{path: tc.path, body: `{"email":"alice@example.com","password":"s3cret-pass"}`})
			if r.status != tc.status {
				t.Errorf("%s", r)
			}
		})
	}
}

func TestClientOf(t *testing.T) {
	long := strings.Repeat("u", 600)
	for _, tc := range []struct {
		name, ua, want string
	}{
		{"short", "curl/8.0", "curl/8.0"},
		{"truncated-to-512", long, long[:512]},
		{"absent", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h := []string{}
			if tc.ua != "" {
				h = append(h, "User-Agent: "+tc.ua)
			}
			r := f.do(t, req{path: "/api/token/", body: `{"email":"alice@example.com","password":"s3cret-pass"}`, headers: h, remote: "198.51.100.7:4242"})
			if r.status != 200 {
				t.Fatalf("%s", r)
			}
			want := tokens.Client{IP: "198.51.100.7", UserAgent: tc.want}
			if got := f.tokens.lastClient(); !reflect.DeepEqual(got, want) {
				t.Errorf("client %+v, want %+v", got, want)
			}
		})
	}
}
