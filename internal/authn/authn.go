package authn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/throttle"
	"github.com/idp/idp/internal/users"
)

var (
	// ErrInvalidCredentials: unknown email, wrong password or inactive
	// account — one answer for all three.
	ErrInvalidCredentials = users.ErrInvalidCredentials
	// ErrBusy: every password-hashing slot stayed taken; retry shortly.
	ErrBusy = users.ErrBusy
	// ErrThrottled is matched by every *ThrottledError.
	ErrThrottled = errors.New("authn: login attempts throttled")
)

// ThrottledError refuses an attempt before any password work.
type ThrottledError struct {
	// RetryAfter is how long the client must wait (> 0).
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("authn: login attempts throttled, retry in %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Attempt is one password login as the surface received it.
type Attempt struct {
	// Email and Password as the client sent them.
	Email    string
	Password string
	// IP is the client address (after trusted-proxy resolution); UserAgent
	// its User-Agent header (truncated by the caller if it likes).
	IP        string
	UserAgent string
	// Device is the device cookie the client presented ("" if none).
	Device string
}

// Result is a successful login.
type Result struct {
	User storage.User
	// Device is a new device token to hand the client (as a cookie that
	// lives DeviceTTL); "" when device cookies are off (no DeviceKeys).
	Device    string
	DeviceTTL time.Duration
}

// Users is what login needs of accounts.
type Users interface {
	Authenticate(ctx context.Context, email, password string) (storage.User, error)
}

// Guard is the brute-force protection (throttle.Guard).
type Guard interface {
	Admit(ctx context.Context, a throttle.Attempt) (time.Duration, error)
	Failed(ctx context.Context, a throttle.Attempt) error
	Succeeded(ctx context.Context, a throttle.Attempt, userID int64) error
}

// Options configure a Service.
type Options struct {
	Users Users
	// Guard may be nil: no throttling (tests only).
	Guard Guard
	// DeviceKeys authenticate device cookies (the first signs, every one
	// verifies; each at least 32 bytes). None: no device cookies.
	DeviceKeys [][]byte
	// DeviceTTL is how long a device token is honoured (default 365 days).
	DeviceTTL time.Duration
	// IdentifierKey keys the hash that logs and audit name an attempt by
	// when its email is not a valid address (it may be a password typed in
	// the wrong field). Nil: a random key per process.
	IdentifierKey []byte
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DefaultDeviceTTL is how long a device cookie is honoured by default.
const DefaultDeviceTTL = 365 * 24 * time.Hour

// Service logs users in with email and password.
type Service struct {
	users      Users
	guard      Guard
	deviceKeys [][]byte
	deviceTTL  time.Duration
	idKey      []byte
	now        func() time.Time
}

// New builds a Service.
func New(opts Options) (*Service, error) {
	if opts.Users == nil {
		return nil, errors.New("authn: Users is required")
	}
	g := opts.Guard
	if g == nil {
		g = noGuard{}
	}
	for i, k := range opts.DeviceKeys {
		if len(k) < 32 {
			return nil, fmt.Errorf("authn: device key %d is %d bytes, want at least 32", i, len(k))
		}
	}
	s := &Service{users: opts.Users, guard: g, deviceKeys: opts.DeviceKeys, deviceTTL: opts.DeviceTTL, now: opts.Now}
	if s.deviceTTL <= 0 {
		s.deviceTTL = DefaultDeviceTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.idKey = opts.IdentifierKey
	if len(s.idKey) == 0 {
		s.idKey = make([]byte, 32)
		_, _ = rand.Read(s.idKey)
	}
	return s, nil
}

// Login checks an email and password under brute-force protection. See
// the package documentation for its errors.
func (s *Service) Login(ctx context.Context, in Attempt) (Result, error) {
	// Counted under the address login looks up, so that variants of it
	// share one count.
	email := users.NormalizeEmail(in.Email)
	now := s.now()
	ta := throttle.Attempt{Email: email, Identifier: s.identifier(in.Email), IP: in.IP, UserAgent: in.UserAgent,
		Device: s.device(in.Device, email, now)}
	// Blocked attempts are refused before any password work, with the
	// same answer whether the account exists or not.
	wait, err := s.guard.Admit(ctx, ta)
	if err != nil {
		return Result{}, err
	}
	if wait > 0 {
		return Result{}, &ThrottledError{RetryAfter: wait}
	}
	u, err := s.users.Authenticate(ctx, in.Email, in.Password)
	switch {
	case errors.Is(err, users.ErrInvalidCredentials):
		if err := s.guard.Failed(ctx, ta); err != nil {
			return Result{}, err
		}
		return Result{}, ErrInvalidCredentials
	case err != nil:
		return Result{}, err
	}
	if err := s.guard.Succeeded(ctx, ta, u.ID); err != nil {
		return Result{}, err
	}
	res := Result{User: u, DeviceTTL: s.deviceTTL}
	res.Device = s.newDevice(email, now)
	return res, nil
}

// noGuard lets every attempt through.
type noGuard struct{}

func (noGuard) Admit(context.Context, throttle.Attempt) (time.Duration, error) { return 0, nil }
func (noGuard) Failed(context.Context, throttle.Attempt) error                 { return nil }
func (noGuard) Succeeded(context.Context, throttle.Attempt, int64) error       { return nil }

// identifier is what logs and audit name an attempt by: the normalised
// address when it is one registration would accept, otherwise a keyed
// hash ("hmac:" and 16 hex digits) — never the raw input, which may be a
// password typed into the email field.
func (s *Service) identifier(email string) string {
	if users.IsValidEmail(email) {
		return users.NormalizeEmail(email)
	}
	m := hmac.New(sha256.New, s.idKey)
	m.Write([]byte(email))
	return "hmac:" + hex.EncodeToString(m.Sum(nil)[:8])
}
