package users

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// faultyUsers wraps a store and lets a test replace single methods.
type faultyUsers struct {
	storage.Users
	getUserByEmail  func(ctx context.Context, email string) (storage.User, error)
	getUser         func(ctx context.Context, id int64) (storage.User, error)
	setLastLogin    func(ctx context.Context, id int64, at time.Time) error
	setPasswordHash func(ctx context.Context, id int64, hash string, changedAt time.Time) error
	swapHash        func(ctx context.Context, id int64, oldHash, newHash string) error
}

func (f *faultyUsers) SwapPasswordHash(ctx context.Context, id int64, oldHash, newHash string) error {
	if f.swapHash != nil {
		return f.swapHash(ctx, id, oldHash, newHash)
	}
	return f.Users.SwapPasswordHash(ctx, id, oldHash, newHash)
}

func (f *faultyUsers) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	if f.getUserByEmail != nil {
		return f.getUserByEmail(ctx, email)
	}
	return f.Users.GetUserByEmail(ctx, email)
}

func (f *faultyUsers) GetUser(ctx context.Context, id int64) (storage.User, error) {
	if f.getUser != nil {
		return f.getUser(ctx, id)
	}
	return f.Users.GetUser(ctx, id)
}

func (f *faultyUsers) SetLastLogin(ctx context.Context, id int64, at time.Time) error {
	if f.setLastLogin != nil {
		return f.setLastLogin(ctx, id, at)
	}
	return f.Users.SetLastLogin(ctx, id, at)
}

func (f *faultyUsers) SetPasswordHash(ctx context.Context, id int64, hash string, changedAt time.Time) error {
	if f.setPasswordHash != nil {
		return f.setPasswordHash(ctx, id, hash, changedAt)
	}
	return f.Users.SetPasswordHash(ctx, id, hash, changedAt)
}

var errBoom = errors.New("boom")

// migratedUser is an active user as imported from the tutorial app.
func migratedUser(email, hash string) storage.User {
	joined := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return storage.User{Email: email, Name: "Migrated", PasswordHash: hash, IsActive: true, DateJoined: joined, PasswordChangedAt: joined}
}

func alice() Registration {
	return Registration{Name: "Alice", Email: "alice@example.com", Password: "s3cret-pass"}
}

// wantValidation fails unless err is a *ValidationError rendering as want.
func wantValidation(t *testing.T, err error, want string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want a *ValidationError %s", err, err, want)
	}
	got, _ := ve.MarshalJSON()
	if string(got) != want {
		t.Errorf("validation errors\n got %s\nwant %s", got, want)
	}
}

func mustRegister(t *testing.T, s *Service, r Registration) storage.User {
	t.Helper()
	u, err := s.Register(t.Context(), r)
	if err != nil {
		t.Fatalf("Register(%q): %v", r.Email, err)
	}
	return u
}

func TestNew(t *testing.T) {
	store := storagetest.SQLite(t)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no-store", Options{}, "no store"},
		{"negative-min-length", Options{Store: store, MinPasswordLength: -1}, "negative"},
		{"min-length-above-max", Options{Store: store, MinPasswordLength: 129}, "exceeds"},
		{"negative-concurrency", Options{Store: store, Argon2: cheapParams, MaxConcurrentHashes: -1}, "negative"},
		{"unverifiable-params", Options{Store: store, Argon2: Argon2Params{MemoryKiB: 1024, Iterations: 65, Parallelism: 1}}, "exceed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		s, err := New(Options{Store: store})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Hasher().Params(); got != DefaultArgon2Params {
			t.Errorf("params %+v, want OWASP's %+v", got, DefaultArgon2Params)
		}
		if s.policy.minLength != 8 {
			t.Errorf("min length %d, want 8", s.policy.minLength)
		}
		if ok, _ := s.hasher.Verify(s.dummyHash, "anything"); ok {
			t.Error("dummy hash verifies a guess")
		}
	})
}

func TestValidateRegistration(t *testing.T) {
	s := newPolicyService(t)
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name string
		r    Registration
		want string // "" for valid
	}{
		{"valid", alice(), ""},
		{"padded-fields-are-trimmed", Registration{Name: "  Alice ", Email: " alice@example.com\n", Password: "  s3cret-pass  "}, ""},
		{"all-blank", Registration{}, `{"name":["This field may not be blank."],"email":["This field may not be blank."],"password":["This field may not be blank."]}`},
		{"whitespace-only-password", Registration{Name: "A", Email: "a@example.com", Password: "   "}, `{"password":["This field may not be blank."]}`},
		{"invalid-email", Registration{Name: "A", Email: "not-an-email", Password: "s3cret-pass"}, `{"email":["Enter a valid email address."]}`},
		{"too-long", Registration{Name: long(101), Email: long(89) + "@example.com", Password: long(129)},
			`{"name":["Ensure this field has no more than 100 characters."],"email":["Ensure this field has no more than 100 characters."],"password":["Ensure this field has no more than 128 characters."]}`},
		{"exactly-at-limits", Registration{Name: long(100), Email: long(88) + "@example.com", Password: "a1-" + strings.Repeat("q", 125)}, ""},
		{"too-long-and-invalid-email", Registration{Name: "A", Email: long(101), Password: "s3cret-pass"},
			`{"email":["Ensure this field has no more than 100 characters.","Enter a valid email address."]}`},
		{"null-characters", Registration{Name: "A\x00", Email: "a\x00@example.com", Password: "s3cret\x00pass"},
			`{"name":["Null characters are not allowed."],"email":["Null characters are not allowed.","Enter a valid email address."],"password":["Null characters are not allowed."]}`},
		{"weak-password-all-policy-messages-in-order", Registration{Name: "A", Email: "1234@example.com", Password: "1234"},
			`{"password":["The password is too similar to the email.","This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}`},
		{"similar-to-email", Registration{Name: "Alice", Email: "alice@example.com", Password: "alice2024"}, `{"password":["The password is too similar to the email."]}`},
		{"short", Registration{Name: "A", Email: "a@example.com", Password: "xk3-pq9"}, `{"password":["This password is too short. It must contain at least 8 characters."]}`},
		{"common", Registration{Name: "A", Email: "a@example.com", Password: "iloveyou"}, `{"password":["This password is too common."]}`},
		{"numeric", Registration{Name: "A", Email: "a@example.com", Password: "90817263544"}, `{"password":["This password is entirely numeric."]}`},
		{"tutorial-weak-password-1", Registration{Name: "B", Email: "b@example.com", Password: "1"},
			`{"password":["This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}`},
		{"every-field-wrong-in-field-order", Registration{Name: " ", Email: "bad", Password: "1"},
			`{"name":["This field may not be blank."],"email":["Enter a valid email address."],"password":["This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}`},
		{"too-long-password-skips-policy", Registration{Name: "A", Email: "a@example.com", Password: strings.Repeat("1", 129)}, `{"password":["Ensure this field has no more than 128 characters."]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ve := s.ValidateRegistration(tt.r)
			if tt.want == "" {
				if ve != nil {
					t.Errorf("got %v, want valid", ve)
				}
				return
			}
			wantValidation(t, ve.Err(), tt.want)
		})
	}
}

func TestValidateRegistrationMinLengthOption(t *testing.T) {
	s, _ := newTestService(t, nilUsers{}, func(o *Options) { o.MinPasswordLength = 12 })
	ve := s.ValidateRegistration(alice()) // 11 characters
	wantValidation(t, ve.Err(), `{"password":["This password is too short. It must contain at least 12 characters."]}`)
}

func TestRegister(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		s, clock := newTestService(t, store)
		u := mustRegister(t, s, Registration{Name: "  Alice  ", Email: " Alice@EXAMPLE.com ", Password: "  s3cret-pass  "})
		now := clock.Now()
		if u.ID == 0 || u.Name != "Alice" || u.Email != "Alice@example.com" {
			t.Errorf("user %d %q %q, want a new id, Alice, Alice@example.com", u.ID, u.Name, u.Email)
		}
		if !u.IsActive || u.IsStaff || u.IsSuperuser || u.IsAdmin {
			t.Errorf("flags active=%v staff=%v superuser=%v admin=%v, want active only", u.IsActive, u.IsStaff, u.IsSuperuser, u.IsAdmin)
		}
		if !u.DateJoined.Equal(now) || !u.PasswordChangedAt.Equal(now) || !u.LastLogin.IsZero() {
			t.Errorf("times joined=%v changed=%v last=%v, want %v, %v, zero", u.DateJoined, u.PasswordChangedAt, u.LastLogin, now, now)
		}
		stored, err := store.GetUser(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ok, rehash := s.Hasher().Verify(stored.PasswordHash, "s3cret-pass"); !ok || rehash {
			t.Errorf("stored hash %q does not verify the trimmed password (ok=%v rehash=%v)", stored.PasswordHash, ok, rehash)
		}
		if strings.Contains(stored.PasswordHash, "s3cret") {
			t.Error("password stored in clear")
		}
	})
}

func TestRegisterDuplicateEmail(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		s, _ := newTestService(t, store)
		mustRegister(t, s, alice())
		tests := []struct {
			name string
			r    Registration
			want string
		}{
			{"same", alice(), `{"email":["User with this email already exists."]}`},
			{"other-case", Registration{Name: "Alice", Email: "ALICE@EXAMPLE.COM", Password: "s3cret-pass"}, `{"email":["User with this email already exists."]}`},
			{"padded", Registration{Name: "Alice", Email: "  alice@Example.com ", Password: "s3cret-pass"}, `{"email":["User with this email already exists."]}`},
			{"with-other-field-errors-in-field-order", Registration{Name: "", Email: "Alice@example.com", Password: "alice2024"},
				`{"name":["This field may not be blank."],"email":["User with this email already exists."],"password":["The password is too similar to the email."]}`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Register(t.Context(), tt.r)
				wantValidation(t, err, tt.want)
			})
		}
	})
}

// The uniqueness read can miss a registration that commits just after
// it; the unique index then refuses the insert, and the caller must still
// get the field error, not a storage error.
func TestRegisterConflictAfterCheckIsFieldError(t *testing.T) {
	store := storagetest.SQLite(t)
	hidden := &faultyUsers{Users: store, getUserByEmail: func(context.Context, string) (storage.User, error) {
		return storage.User{}, storage.ErrNotFound
	}}
	s, _ := newTestService(t, hidden)
	mustRegister(t, s, alice())
	_, err := s.Register(t.Context(), Registration{Name: "A", Email: "alice@EXAMPLE.com", Password: "s3cret-pass"})
	wantValidation(t, err, `{"email":["User with this email already exists."]}`)
}

func TestRegisterConcurrentSameEmail(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		s, _ := newTestService(t, store)
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				r := alice()
				if i%2 == 1 {
					r.Email = "ALICE@example.com"
				}
				_, errs[i] = s.Register(t.Context(), r)
			})
		}
		close(start)
		wg.Wait()
		ok, taken := 0, 0
		for _, err := range errs {
			var ve *ValidationError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ve) && slices.Equal(ve.Messages(FieldEmail), []string{MsgEmailTaken}) && len(ve.Fields) == 1:
				taken++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || taken != n-1 {
			t.Errorf("%d succeeded and %d got the email error, want 1 and %d", ok, taken, n-1)
		}
		users, err := s.List(t.Context(), 0, 100)
		if err != nil || len(users) != 1 {
			t.Errorf("List = %d users, %v; want 1", len(users), err)
		}
	})
}

func TestRegisterStoreFailureIsNotAFieldError(t *testing.T) {
	store := storagetest.SQLite(t)
	broken := &faultyUsers{Users: store, getUserByEmail: func(context.Context, string) (storage.User, error) {
		return storage.User{}, errBoom
	}}
	s, _ := newTestService(t, broken)
	_, err := s.Register(t.Context(), alice())
	var ve *ValidationError
	if !errors.Is(err, errBoom) || errors.As(err, &ve) {
		t.Errorf("err = %v, want the wrapped store error", err)
	}
}

func TestAuthenticate(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		s, clock := newTestService(t, store)
		active := mustRegister(t, s, alice())
		inactive := mustRegister(t, s, Registration{Name: "Ina", Email: "ina@example.com", Password: "s3cret-pass"})
		if err := s.SetActive(t.Context(), inactive.ID, false); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, email, password string
			wantErr               error
		}{
			{"ok", "alice@example.com", "s3cret-pass", nil},
			{"email-other-case", "ALICE@Example.COM", "s3cret-pass", nil},
			{"padded-password-and-email", " alice@example.com ", "  s3cret-pass\t", nil},
			{"wrong-password", "alice@example.com", "s3cret-pasS", ErrInvalidCredentials},
			{"empty-password", "alice@example.com", "", ErrInvalidCredentials},
			{"unknown-email", "nobody@example.com", "s3cret-pass", ErrInvalidCredentials},
			{"empty-email", "", "s3cret-pass", ErrInvalidCredentials},
			{"inactive-right-password", "ina@example.com", "s3cret-pass", ErrInvalidCredentials},
			{"inactive-wrong-password", "ina@example.com", "wrong", ErrInvalidCredentials},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clock.Advance(time.Minute)
				u, err := s.Authenticate(t.Context(), tt.email, tt.password)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr != nil {
					if err != ErrInvalidCredentials {
						t.Errorf("err = %#v, want exactly ErrInvalidCredentials", err)
					}
					return
				}
				if u.ID != active.ID || !u.LastLogin.Equal(clock.Now()) {
					t.Errorf("user %d last login %v, want %d at %v", u.ID, u.LastLogin, active.ID, clock.Now())
				}
				stored, _ := store.GetUser(t.Context(), u.ID)
				if !stored.LastLogin.Equal(clock.Now()) {
					t.Errorf("stored last login %v, want %v", stored.LastLogin, clock.Now())
				}
			})
		}
		stored, _ := store.GetUser(t.Context(), inactive.ID)
		if !stored.LastLogin.IsZero() {
			t.Error("a failed login recorded a last login")
		}
	})
}

// A login with an unknown email, or against an unusable hash, must do a
// hash verification like any other: it waits for a hashing worker. The
// test holds the only worker and cancels the context once the lookup is
// done.
func TestAuthenticateAlwaysDoesHashWork(t *testing.T) {
	store := storagetest.SQLite(t)
	var cancelAfterLookup context.CancelFunc
	wrapped := &faultyUsers{Users: store, getUserByEmail: func(_ context.Context, email string) (storage.User, error) {
		defer cancelAfterLookup()
		return store.GetUserByEmail(t.Context(), email)
	}}
	s, _ := newTestService(t, wrapped, func(o *Options) { o.MaxConcurrentHashes = 1 })
	if _, err := store.CreateUser(t.Context(), migratedUser("unusable@example.com", "!unusable")); err != nil {
		t.Fatal(err)
	}
	holdWorkers(t, s.hashing, 1)
	for _, email := range []string{"nobody@example.com", "unusable@example.com"} {
		t.Run(email, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			cancelAfterLookup = cancel
			_, err := s.Authenticate(ctx, email, "s3cret-pass")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want it to wait for hashing until cancelled", err)
			}
		})
	}
}

func TestAuthenticateStoreErrors(t *testing.T) {
	store := storagetest.SQLite(t)
	tests := []struct {
		name  string
		fault func(f *faultyUsers)
	}{
		{"lookup-fails", func(f *faultyUsers) {
			f.getUserByEmail = func(context.Context, string) (storage.User, error) { return storage.User{}, errBoom }
		}},
		{"recording-login-fails", func(f *faultyUsers) {
			f.setLastLogin = func(context.Context, int64, time.Time) error { return errBoom }
		}},
	}
	setup, _ := newTestService(t, store)
	mustRegister(t, setup, alice())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &faultyUsers{Users: store}
			tt.fault(f)
			s, _ := newTestService(t, f)
			_, err := s.Authenticate(t.Context(), "alice@example.com", "s3cret-pass")
			if !errors.Is(err, errBoom) || errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("err = %v, want the wrapped store error", err)
			}
		})
	}
	t.Run("user-deleted-before-login-recorded", func(t *testing.T) {
		f := &faultyUsers{Users: store, setLastLogin: func(context.Context, int64, time.Time) error { return storage.ErrNotFound }}
		s, _ := newTestService(t, f)
		if _, err := s.Authenticate(t.Context(), "alice@example.com", "s3cret-pass"); err != ErrInvalidCredentials {
			t.Errorf("err = %v, want ErrInvalidCredentials", err)
		}
	})
}

// A user migrated from the tutorial app (Django's pbkdf2_sha256) logs in:
// the hash becomes argon2id, PasswordChangedAt stays.
func TestAuthenticateRehashesMigratedUser(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		s, clock := newTestService(t, store)
		joined := clock.Now().Add(-24 * time.Hour)
		const django = "pbkdf2_sha256$1000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="
		u, err := store.CreateUser(t.Context(), storage.User{Email: "migrated@example.com", Name: "M", PasswordHash: django,
			IsActive: true, DateJoined: joined, PasswordChangedAt: joined})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Authenticate(t.Context(), "migrated@example.com", " s3cret-pass ")
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := store.GetUser(t.Context(), u.ID)
		if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=1024,t=1,p=1$") || got.PasswordHash != stored.PasswordHash {
			t.Errorf("hash after login %q (returned %q), want a fresh argon2id hash", stored.PasswordHash, got.PasswordHash)
		}
		if !stored.PasswordChangedAt.Equal(joined) {
			t.Errorf("PasswordChangedAt %v, want unchanged %v", stored.PasswordChangedAt, joined)
		}
		if !stored.LastLogin.Equal(clock.Now()) {
			t.Errorf("LastLogin %v, want %v", stored.LastLogin, clock.Now())
		}
		if _, err := s.Authenticate(t.Context(), "migrated@example.com", "s3cret-pass"); err != nil {
			t.Errorf("second login: %v", err)
		}
		again, _ := store.GetUser(t.Context(), u.ID)
		if again.PasswordHash != stored.PasswordHash {
			t.Error("an up-to-date hash was rehashed")
		}
	})
}

func TestAuthenticateRehashesOnParameterChange(t *testing.T) {
	store := storagetest.SQLite(t)
	old, _ := newTestService(t, store)
	u := mustRegister(t, old, alice())
	stronger, _ := newTestService(t, store, func(o *Options) { o.Argon2 = Argon2Params{MemoryKiB: 2048, Iterations: 2, Parallelism: 1} })
	if _, err := stronger.Authenticate(t.Context(), "alice@example.com", "s3cret-pass"); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.GetUser(t.Context(), u.ID)
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=2048,t=2,p=1$") {
		t.Errorf("hash %q, want the new parameters", stored.PasswordHash)
	}
	if !stored.PasswordChangedAt.Equal(u.PasswordChangedAt) {
		t.Errorf("PasswordChangedAt moved from %v to %v", u.PasswordChangedAt, stored.PasswordChangedAt)
	}
}

func TestRehashDoesNotUndoAConcurrentPasswordChange(t *testing.T) {
	const django = "pbkdf2_sha256$1000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="
	setup := func(t *testing.T) (storage.Store, storage.User) {
		store := storagetest.SQLite(t)
		u, err := store.CreateUser(t.Context(), migratedUser("m@example.com", django))
		if err != nil {
			t.Fatal(err)
		}
		return store, u
	}
	t.Run("changed-between-verify-and-rehash", func(t *testing.T) {
		store, u := setup(t)
		var swaps []string
		f := &faultyUsers{Users: store,
			swapHash: func(ctx context.Context, id int64, oldHash, newHash string) error {
				// An administrator reset the password between the login's
				// verification and its rehash.
				if err := store.SetPasswordHash(ctx, id, "$argon2id$reset-by-admin", time.Now()); err != nil {
					return err
				}
				swaps = append(swaps, oldHash)
				return store.SwapPasswordHash(ctx, id, oldHash, newHash)
			},
		}
		s, _ := newTestService(t, f)
		if _, err := s.Authenticate(t.Context(), "m@example.com", "s3cret-pass"); err != nil {
			t.Fatalf("login: %v", err)
		}
		stored, _ := store.GetUser(t.Context(), u.ID)
		if !slices.Equal(swaps, []string{django}) || stored.PasswordHash != "$argon2id$reset-by-admin" {
			t.Errorf("rehash overwrote the reset (swaps from %q, hash %q)", swaps, stored.PasswordHash)
		}
	})
	t.Run("rehash-write-failure-keeps-login", func(t *testing.T) {
		store, u := setup(t)
		f := &faultyUsers{Users: store, swapHash: func(context.Context, int64, string, string) error { return errBoom }}
		s, _ := newTestService(t, f)
		got, err := s.Authenticate(t.Context(), "m@example.com", "s3cret-pass")
		if err != nil || got.ID != u.ID || got.PasswordHash != django {
			t.Errorf("login = %d %q, %v; want success with the old hash", got.ID, got.PasswordHash, err)
		}
	})
}

func boolp(b bool) *bool { return &b }

func TestCreateUser(t *testing.T) {
	s, clock := newTestService(t, nil)
	mustRegister(t, s, alice())
	type flags struct{ active, staff, superuser, admin bool }
	tests := []struct {
		name      string
		nu        NewUser
		wantErr   error
		wantVE    string
		wantEmail string
		want      flags
	}{
		{"defaults", NewUser{Email: "Op@EXAMPLE.org", Password: "s3cret-pass"}, nil, "", "Op@example.org", flags{active: true}},
		{"explicit-flags", NewUser{Email: "staff@example.org", Name: "S", Password: "s3cret-pass", IsActive: boolp(false), IsStaff: boolp(true), IsAdmin: boolp(true)},
			nil, "", "staff@example.org", flags{staff: true, admin: true}},
		{"email-required", NewUser{Email: "", Password: "s3cret-pass"}, ErrEmailRequired, "", "", flags{}},
		{"email-required-whitespace", NewUser{Email: "  ", Password: "s3cret-pass"}, ErrEmailRequired, "", "", flags{}},
		{"invalid-email", NewUser{Email: "nope", Password: "s3cret-pass"}, nil, `{"email":["Enter a valid email address."]}`, "", flags{}},
		{"weak-password", NewUser{Email: "weak@example.org", Password: "12345678"}, nil,
			`{"password":["This password is too common.","This password is entirely numeric."]}`, "", flags{}},
		{"password-required", NewUser{Email: "nopw@example.org"}, nil, `{"password":["This field may not be blank."]}`, "", flags{}},
		{"long-name", NewUser{Email: "long@example.org", Name: strings.Repeat("n", 101), Password: "s3cret-pass"}, nil,
			`{"name":["Ensure this field has no more than 100 characters."]}`, "", flags{}},
		{"duplicate", NewUser{Email: "ALICE@example.com", Password: "s3cret-pass"}, nil, `{"email":["User with this email already exists."]}`, "", flags{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.CreateUser(t.Context(), tt.nu)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.wantVE != "":
				wantValidation(t, err, tt.wantVE)
				return
			case err != nil:
				t.Fatal(err)
			}
			got := flags{u.IsActive, u.IsStaff, u.IsSuperuser, u.IsAdmin}
			if u.Email != tt.wantEmail || got != tt.want || !u.PasswordChangedAt.Equal(clock.Now()) {
				t.Errorf("got %q %+v changed=%v, want %q %+v", u.Email, got, u.PasswordChangedAt, tt.wantEmail, tt.want)
			}
		})
	}
}

func TestCreateSuperuser(t *testing.T) {
	s, _ := newTestService(t, nil)
	tests := []struct {
		name    string
		nu      NewUser
		wantErr error
	}{
		{"defaults-all-true", NewUser{Email: "root@example.com", Name: "Root", Password: "s3cret-pass"}, nil},
		{"explicit-true", NewUser{Email: "root2@example.com", Password: "s3cret-pass", IsStaff: boolp(true), IsSuperuser: boolp(true)}, nil},
		{"inactive-allowed", NewUser{Email: "root3@example.com", Password: "s3cret-pass", IsActive: boolp(false)}, nil},
		{"not-staff", NewUser{Email: "x@example.com", Password: "s3cret-pass", IsStaff: boolp(false)}, ErrSuperuserMustBeStaff},
		{"not-superuser", NewUser{Email: "x@example.com", Password: "s3cret-pass", IsSuperuser: boolp(false)}, ErrSuperuserMustBeSuperuser},
		{"neither-reports-staff-first", NewUser{Email: "x@example.com", Password: "s3cret-pass", IsStaff: boolp(false), IsSuperuser: boolp(false)}, ErrSuperuserMustBeStaff},
		{"flags-checked-before-email", NewUser{IsStaff: boolp(false)}, ErrSuperuserMustBeStaff},
		{"email-required", NewUser{Password: "s3cret-pass"}, ErrEmailRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.CreateSuperuser(t.Context(), tt.nu)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if err.Error() != tt.wantErr.Error() {
					t.Errorf("message %q", err.Error())
				}
				return
			}
			if !u.IsStaff || !u.IsSuperuser || u.IsActive != flag(tt.nu.IsActive, true) || u.IsAdmin {
				t.Errorf("flags staff=%v superuser=%v active=%v admin=%v", u.IsStaff, u.IsSuperuser, u.IsActive, u.IsAdmin)
			}
		})
	}
	if ErrSuperuserMustBeStaff.Error() != "Superuser must have is_staff=True." ||
		ErrSuperuserMustBeSuperuser.Error() != "Superuser must have is_superuser=True." ||
		ErrEmailRequired.Error() != "The Email must be set" {
		t.Error("manager messages differ from Django's")
	}
}

func TestSetPassword(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		s, clock := newTestService(t, store, func(o *Options) { o.Families = store })
		u := mustRegister(t, s, alice())
		fam := storage.Family{ID: "fam-1", UserID: u.ID, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour),
			CurrentJTI: "j0", CurrentKID: "k", RotatedAt: clock.Now()}
		if err := store.CreateFamily(t.Context(), fam); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ name, password, want string }{
			{"blank", "  ", `{"password":["This field may not be blank."]}`},
			{"similar-to-own-email", "alice2024", `{"password":["The password is too similar to the email."]}`},
			{"too-long", strings.Repeat("y", 129), `{"password":["Ensure this field has no more than 128 characters."]}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantValidation(t, s.SetPassword(t.Context(), u.ID, tt.password), tt.want)
			})
		}
		if err := s.SetPassword(t.Context(), 999999, "n3w-passphrase"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("unknown user: err = %v, want ErrNotFound", err)
		}
		clock.Advance(time.Hour)
		if err := s.SetPassword(t.Context(), u.ID, " n3w-passphrase "); err != nil {
			t.Fatal(err)
		}
		stored, _ := store.GetUser(t.Context(), u.ID)
		if !stored.PasswordChangedAt.Equal(clock.Now()) {
			t.Errorf("PasswordChangedAt %v, want %v", stored.PasswordChangedAt, clock.Now())
		}
		if _, err := s.Authenticate(t.Context(), "alice@example.com", "s3cret-pass"); err != ErrInvalidCredentials {
			t.Errorf("old password: %v", err)
		}
		if _, err := s.Authenticate(t.Context(), "alice@example.com", "n3w-passphrase"); err != nil {
			t.Errorf("new password: %v", err)
		}
		f, _ := store.GetFamily(t.Context(), fam.ID)
		if f.RevokedAt.IsZero() || f.RevokeReason != "password_changed" {
			t.Errorf("family revoked at %v for %q, want revoked for password_changed", f.RevokedAt, f.RevokeReason)
		}
	})
}

func TestSetActiveGetListDelete(t *testing.T) {
	store := storagetest.SQLite(t)
	s, clock := newTestService(t, store, func(o *Options) { o.Families = store })
	var ids []int64
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		ids = append(ids, mustRegister(t, s, Registration{Name: "N", Email: e, Password: "s3cret-pass"}).ID)
	}
	fam := storage.Family{ID: "fam-b", UserID: ids[1], CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour),
		CurrentJTI: "j0", CurrentKID: "k", RotatedAt: clock.Now()}
	if err := store.CreateFamily(t.Context(), fam); err != nil {
		t.Fatal(err)
	}

	if err := s.SetActive(t.Context(), ids[1], false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), "b@example.com", "s3cret-pass"); err != ErrInvalidCredentials {
		t.Errorf("deactivated login: %v", err)
	}
	if f, _ := store.GetFamily(t.Context(), fam.ID); f.RevokedAt.IsZero() || f.RevokeReason != "user_deactivated" {
		t.Errorf("family of deactivated user: revoked %v reason %q", f.RevokedAt, f.RevokeReason)
	}
	if err := s.SetActive(t.Context(), ids[1], true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), "b@example.com", "s3cret-pass"); err != nil {
		t.Errorf("reactivated login: %v", err)
	}
	if err := s.SetActive(t.Context(), 999999, false); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetActive(unknown) = %v", err)
	}

	page, err := s.List(t.Context(), 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != ids[0] || page[1].ID != ids[1] {
		t.Fatalf("List(0, 2) = %v, %v", page, err)
	}
	page, err = s.List(t.Context(), ids[1], 2)
	if err != nil || len(page) != 1 || page[0].ID != ids[2] {
		t.Fatalf("List(after 2nd) = %v, %v", page, err)
	}

	if err := s.Delete(t.Context(), ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), ids[0]); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), ids[0]); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Delete(deleted) = %v, want ErrNotFound", err)
	}
	if got, err := s.Get(t.Context(), ids[2]); err != nil || got.Email != "c@example.com" {
		t.Errorf("Get = %+v, %v", got, err)
	}
}

// No log line may carry a password or a hash.
func TestNoSecretsLogged(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	store := storagetest.SQLite(t)
	s, _ := newTestService(t, store, func(o *Options) {
		o.Logger = newTestLogger(&buf, &mu)
	})
	const django = "pbkdf2_sha256$1000$Xy7aBcDeFgHiJkLm$TcxJC0h3MoKz7Kr8lPU09UXNvOkwR2TFXo/y2yn3o2g="
	if _, err := store.CreateUser(t.Context(), migratedUser("m@example.com", django)); err != nil {
		t.Fatal(err)
	}
	u := mustRegister(t, s, alice())
	s.Authenticate(t.Context(), "alice@example.com", "wrong-guess")
	s.Authenticate(t.Context(), "m@example.com", "s3cret-pass")
	s.SetPassword(t.Context(), u.ID, "n3w-passphrase")
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if out == "" {
		t.Fatal("nothing logged")
	}
	// The rehash's audit line names the old format ("pbkdf2_sha256 -> …"),
	// never the hash: no salt, no key.
	for _, secret := range []string{"s3cret", "wrong-guess", "n3w-passphrase", "argon2id$", "pbkdf2_sha256$", "Xy7aBcDeFgHiJkLm", "TcxJC0h3"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
