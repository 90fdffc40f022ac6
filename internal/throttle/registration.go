package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/idp/idp/internal/storage"
)

// RegistrationPolicy limits account creation.
type RegistrationPolicy struct {
	// PerIP registrations per client IP (IPv6: its /64) per PerIPWindow,
	// counted in the shared store (every instance together); 0: no limit.
	PerIP       int64
	PerIPWindow time.Duration
	// GlobalPerMinute registrations per minute on this instance, in bursts
	// of at most GlobalBurst; 0: no limit.
	GlobalPerMinute int
	GlobalBurst     int
}

// Registrations refuses registrations beyond the policy's rates, so that
// a registration flood can neither fill the users table nor take the
// password-hashing capacity logins need.
type Registrations struct {
	store  storage.Throttles
	p      RegistrationPolicy
	now    func() time.Time
	mu     sync.Mutex
	global *rate.Limiter // nil: no global limit
}

// NewRegistrations builds the limiter (now nil: time.Now).
func NewRegistrations(store storage.Throttles, p RegistrationPolicy, now func() time.Time) (*Registrations, error) {
	if store == nil {
		return nil, fmt.Errorf("registration limit: Store is required")
	}
	if p.PerIP < 0 || (p.PerIP > 0 && p.PerIPWindow <= 0) || p.GlobalPerMinute < 0 || (p.GlobalPerMinute > 0 && p.GlobalBurst < 1) {
		return nil, fmt.Errorf("registration limit: invalid policy %+v", p)
	}
	r := &Registrations{store: store, p: p, now: now}
	if r.now == nil {
		r.now = time.Now
	}
	if p.GlobalPerMinute > 0 {
		r.global = rate.NewLimiter(rate.Limit(float64(p.GlobalPerMinute)/60), p.GlobalBurst)
	}
	return r, nil
}

// Admit decides whether a registration from ip may go ahead: zero, or how
// long the client must wait (answer 429 with Retry-After). An admitted
// registration is counted.
func (r *Registrations) Admit(ctx context.Context, ip string) (time.Duration, error) {
	now := r.now()
	if r.global != nil {
		r.mu.Lock()
		tokens := r.global.TokensAt(now)
		r.mu.Unlock()
		if tokens < 1 {
			return max(time.Duration((1-tokens)/float64(r.global.Limit())*float64(time.Second)), time.Second), nil
		}
	}
	if r.p.PerIP > 0 {
		st, err := r.store.AddFailure(ctx, "r:"+clientNet(ip), now, r.p.PerIPWindow)
		if err != nil {
			return 0, fmt.Errorf("registration limit: %w", err)
		}
		if st.Failures > r.p.PerIP {
			return max(st.WindowStart.Add(r.p.PerIPWindow).Sub(now), time.Second), nil
		}
	}
	if r.global != nil {
		r.mu.Lock()
		ok := r.global.AllowN(now, 1)
		r.mu.Unlock()
		if !ok {
			return time.Second, nil
		}
	}
	return 0, nil
}
