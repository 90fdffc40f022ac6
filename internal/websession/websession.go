package websession

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/idp/idp/internal/storage"
)

// ErrNoSession: the request carries no cookie naming a live session.
var ErrNoSession = errors.New("websession: no live browser session")

// Options configure a Manager. Zero values take the defaults noted.
type Options struct {
	// CookieName defaults to "idp_session".
	CookieName string
	// Path defaults to "/".
	Path string
	// SameSite defaults to http.SameSiteLaxMode (what an OIDC redirect back
	// to the login needs); the admin console uses Strict.
	SameSite http.SameSite
	// IdleTimeout (default 8h) ends a session unused that long;
	// Lifetime (default 24h) ends it that long after login, whatever use.
	IdleTimeout time.Duration
	Lifetime    time.Duration
	// AnonymousLifetime (default 30m) is the whole life of a session
	// started before login (it only binds a form's CSRF token).
	AnonymousLifetime time.Duration
	// TouchInterval (default 1m): the idle expiry is moved at most this
	// often per session.
	TouchInterval time.Duration
	// Proxies decides whether a request came over TLS (see Proxies).
	Proxies Proxies
	// Now defaults to time.Now.
	Now func() time.Time
}

// Session is a live browser session.
type Session struct {
	// ID is public: the OIDC sid.
	ID string
	// UserID is 0 for an anonymous session.
	UserID int64
	// AuthTime is when the user authenticated (zero if anonymous).
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	secret    []byte
}

// Authenticated reports whether a user is logged in to the session.
func (s Session) Authenticated() bool { return s.UserID != 0 }

// Manager issues, reads and ends browser sessions of one cookie.
type Manager struct {
	store storage.BrowserSessions
	o     Options
}

// New returns a Manager over store.
func New(store storage.BrowserSessions, o Options) *Manager {
	if o.CookieName == "" {
		o.CookieName = "idp_session"
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.SameSite == 0 || o.SameSite == http.SameSiteDefaultMode {
		o.SameSite = http.SameSiteLaxMode
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 8 * time.Hour
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 24 * time.Hour
	}
	if o.AnonymousLifetime <= 0 {
		o.AnonymousLifetime = 30 * time.Minute
	}
	if o.TouchInterval <= 0 {
		o.TouchInterval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{store: store, o: o}
}

// CookieName is the name of the Manager's cookie.
func (m *Manager) CookieName() string { return m.o.CookieName }

// Get returns the live session the request's cookie names, or ErrNoSession
// (no cookie, a malformed one, a wrong secret, ended or expired). Use moves
// the idle expiry (at most once per TouchInterval).
func (m *Manager) Get(r *http.Request) (Session, error) {
	c, err := r.Cookie(m.o.CookieName)
	if err != nil {
		return Session{}, ErrNoSession
	}
	id, secret, ok := parseValue(c.Value)
	if !ok {
		return Session{}, ErrNoSession
	}
	row, err := m.store.GetBrowserSession(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("load browser session: %w", err)
	}
	now := m.o.Now()
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(row.SecretHash)) != 1 ||
		!row.EndedAt.IsZero() || !now.Before(row.IdleExpiresAt) || !now.Before(row.ExpiresAt) {
		return Session{}, ErrNoSession
	}
	if now.Sub(row.LastSeenAt) >= m.o.TouchInterval {
		idle := m.o.IdleTimeout
		if row.UserID == 0 {
			idle = m.o.AnonymousLifetime
		}
		err := m.store.TouchBrowserSession(r.Context(), id, now, now.Add(idle))
		if errors.Is(err, storage.ErrNotFound) {
			return Session{}, ErrNoSession // ended meanwhile
		}
		if err != nil {
			return Session{}, fmt.Errorf("touch browser session: %w", err)
		}
	}
	return Session{ID: row.ID, UserID: row.UserID, AuthTime: row.AuthTime, CreatedAt: row.CreatedAt,
		ExpiresAt: row.ExpiresAt, secret: secret}, nil
}

// Ensure returns the request's live session, or starts an anonymous one
// (setting its cookie on w).
func (m *Manager) Ensure(w http.ResponseWriter, r *http.Request) (Session, error) {
	s, err := m.Get(r)
	if !errors.Is(err, ErrNoSession) {
		return s, err
	}
	return m.start(w, r, 0, time.Time{})
}

// Login starts a new authenticated session for userID (authenticated now),
// sets its cookie on w and ends the session the request's cookie named, if
// any. It never reuses the old id: see session fixation in the doc.
func (m *Manager) Login(w http.ResponseWriter, r *http.Request, userID int64) (Session, error) {
	if userID == 0 {
		return Session{}, errors.New("websession: login of user 0")
	}
	if old, err := m.Get(r); err == nil {
		if _, err := m.store.EndBrowserSession(r.Context(), old.ID, m.o.Now()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return Session{}, fmt.Errorf("end previous browser session: %w", err)
		}
	}
	return m.start(w, r, userID, m.o.Now())
}

// Logout ends the request's session (if live) and clears the cookie. It
// returns the session it ended (ok false if there was none).
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request) (Session, bool, error) {
	m.clear(w, r)
	s, err := m.Get(r)
	if errors.Is(err, ErrNoSession) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	if err := m.End(r.Context(), s.ID); err != nil {
		return Session{}, false, err
	}
	return s, true, nil
}

// End ends the session with that id (ending an ended or unknown one is not
// an error).
func (m *Manager) End(ctx context.Context, id string) error {
	_, err := m.store.EndBrowserSession(ctx, id, m.o.Now())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("end browser session: %w", err)
	}
	return nil
}

// EndUser ends every session of the user (password change, deactivation).
func (m *Manager) EndUser(ctx context.Context, userID int64) (int64, error) {
	return m.store.EndUserBrowserSessions(ctx, userID, m.o.Now())
}

// CSRFToken is the form token bound to s.
func (m *Manager) CSRFToken(s Session) string {
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte("csrf|" + s.ID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports whether token is s's CSRF token (constant time). A
// zero Session (none loaded) never matches.
func (m *Manager) CheckCSRF(s Session, token string) bool {
	if s.ID == "" || len(s.secret) == 0 || token == "" {
		return false
	}
	return hmac.Equal([]byte(m.CSRFToken(s)), []byte(token))
}

// Secure reports whether r came over TLS (see Proxies).
func (m *Manager) Secure(r *http.Request) bool { return m.o.Proxies.TLS(r) }

func (m *Manager) start(w http.ResponseWriter, r *http.Request, userID int64, authTime time.Time) (Session, error) {
	now := m.o.Now()
	idle, life := m.o.IdleTimeout, m.o.Lifetime
	if userID == 0 {
		idle, life = m.o.AnonymousLifetime, m.o.AnonymousLifetime
	}
	id := make([]byte, 16)
	secret := make([]byte, 32)
	rand.Read(id)
	rand.Read(secret)
	row := storage.BrowserSession{
		ID: base64.RawURLEncoding.EncodeToString(id), SecretHash: hashSecret(secret),
		UserID: userID, AuthTime: authTime, CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: minTime(now.Add(idle), now.Add(life)), ExpiresAt: now.Add(life),
		UserAgent: r.UserAgent(), IP: m.o.Proxies.ClientIP(r),
	}
	if err := m.store.CreateBrowserSession(r.Context(), row); err != nil {
		return Session{}, fmt.Errorf("start browser session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: m.o.CookieName, Value: row.ID + "." + base64.RawURLEncoding.EncodeToString(secret),
		Path: m.o.Path, Expires: row.ExpiresAt, MaxAge: int(life / time.Second),
		HttpOnly: true, Secure: m.Secure(r), SameSite: m.o.SameSite,
	})
	// Session rows store microseconds; keep the same precision here.
	return Session{ID: row.ID, UserID: userID, AuthTime: authTime.UTC().Truncate(time.Microsecond),
		CreatedAt: now.UTC().Truncate(time.Microsecond), ExpiresAt: row.ExpiresAt, secret: secret}, nil
}

func (m *Manager) clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: m.o.CookieName, Value: "", Path: m.o.Path, MaxAge: -1,
		HttpOnly: true, Secure: m.Secure(r), SameSite: m.o.SameSite})
}

func parseValue(v string) (id string, secret []byte, ok bool) {
	id, enc, found := strings.Cut(v, ".")
	if !found || len(id) != 22 || len(enc) != 43 {
		return "", nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(id); err != nil {
		return "", nil, false
	}
	secret, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(secret) != 32 {
		return "", nil, false
	}
	return id, secret, true
}

func hashSecret(secret []byte) string {
	h := sha256.Sum256(secret)
	return "sha256:" + hex.EncodeToString(h[:])
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
