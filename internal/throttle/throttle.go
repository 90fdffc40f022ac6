// Package throttle is idp's brute-force protection for password logins.
// It counts failed logins in the shared store (so every instance sees the
// same counts) per account and client IP together, per client IP, and per
// account, refuses attempts while any of them is blocked, and records every
// login outcome (succeeded, failed, throttled) as an audit event.
//
// The pair (account, IP) is what locks hard: an attacker guessing one
// account's password from one address is blocked for a time that doubles
// with every further failure, while the account's owner, logging in from
// elsewhere, is not. The per-IP limit stops one address spraying many
// accounts; the per-account limit slows a distributed attack on one
// account, its block doubling with every further failure.
//
// The account-wide block must not be a switch an attacker can hold
// against the owner (OWASP "device cookies"): it applies only to attempts
// from unknown clients. An attempt that presents a device the account
// logged in with before (Attempt.Device, verified by the caller) is
// counted and blocked on that device alone, like a pair; an attempt from
// a known source — an (account, IP) pair that logged in successfully within
// Policy.KnownFor — is subject to its pair and IP limits but not to the
// account-wide block. A success forgets only its own source's failures
// (the pair, or the device), never the account's or the IP's, so an owner
// logging in does not reset an attacker's count.
//
// Accounts are named by a hash of their normalised email (the table holds
// no addresses) and IPv6 clients by their /64.
//
// It imports internal/storage only.
package throttle

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Policy is when attempts are refused.
type Policy struct {
	// Window is the period failures are counted in.
	Window time.Duration
	// PairLimit failures of one account from one IP within Window block
	// that pair for Block, doubling with each further failure up to
	// MaxBlock.
	PairLimit int64
	// IPLimit failures from one IP (any accounts) block it the same way.
	IPLimit int64
	// AccountLimit failures on one account (any IPs) block the account for
	// AccountBlock, doubling with each further failure up to MaxBlock, for
	// attempts from unknown clients only.
	AccountLimit int64
	Block        time.Duration
	MaxBlock     time.Duration
	AccountBlock time.Duration
	// KnownFor is how long an (account, IP) pair that logged in stays a
	// known source, exempt from the account-wide block.
	KnownFor time.Duration
}

// DefaultPolicy: 5 failures of a pair (or a device) or 100 of an IP in 15
// minutes block for 30 s, doubling up to 15 minutes; 50 on an account block
// it for unknown clients for 1 minute, doubling up to 15 minutes. A source
// stays known for 30 days after a successful login.
func DefaultPolicy() Policy {
	return Policy{
		Window:       15 * time.Minute,
		PairLimit:    5,
		IPLimit:      100,
		AccountLimit: 50,
		Block:        30 * time.Second,
		MaxBlock:     15 * time.Minute,
		AccountBlock: time.Minute,
		KnownFor:     30 * 24 * time.Hour,
	}
}

// Attempt is one login attempt.
type Attempt struct {
	// Email as the account is looked up (normalised by the caller the way
	// login normalises it, so that variants of one address share one
	// count); only its hash is stored.
	Email     string
	IP        string
	UserAgent string
	// Identifier is what logs and audit name the attempt by, chosen by
	// the caller (authn: the address if it is a valid one, else a keyed
	// hash); never the raw input. Empty: a hash of Email.
	Identifier string
	// Device identifies a device cookie the caller has verified as issued
	// to this account ("" if none): the attempt is counted on the device,
	// not on its pair, IP or account.
	Device string
}

// Options configure a Guard.
type Options struct {
	Store  storage.Throttles
	Audit  storage.Audit // may be nil
	Policy Policy
	Now    func() time.Time
	Logger *slog.Logger
}

// Guard guards the login endpoint.
type Guard struct {
	store storage.Throttles
	audit storage.Audit
	p     Policy
	now   func() time.Time
	log   *slog.Logger
	// refused aggregates refused attempts: one audit event and log line
	// per block, not per attempt.
	refused *refusals
}

// New builds a Guard; zero policy fields take DefaultPolicy's.
func New(opts Options) (*Guard, error) {
	if opts.Store == nil {
		return nil, errors.New("throttle: Store is required")
	}
	d := DefaultPolicy()
	p := opts.Policy
	p.Window = cmp.Or(p.Window, d.Window)
	p.PairLimit = cmp.Or(p.PairLimit, d.PairLimit)
	p.IPLimit = cmp.Or(p.IPLimit, d.IPLimit)
	p.AccountLimit = cmp.Or(p.AccountLimit, d.AccountLimit)
	p.Block = cmp.Or(p.Block, d.Block)
	p.MaxBlock = cmp.Or(p.MaxBlock, d.MaxBlock)
	p.AccountBlock = cmp.Or(p.AccountBlock, d.AccountBlock)
	p.KnownFor = cmp.Or(p.KnownFor, d.KnownFor)
	if p.KnownFor < 0 || p.Window < 0 || p.PairLimit < 0 || p.IPLimit < 0 || p.AccountLimit < 0 || p.Block < 0 || p.MaxBlock < p.Block || p.AccountBlock < 0 {
		return nil, fmt.Errorf("throttle: invalid policy %+v", p)
	}
	g := &Guard{store: opts.Store, audit: opts.Audit, p: p, now: opts.Now, log: opts.Logger, refused: newRefusals()}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return g, nil
}

// keys are the throttle keys of an attempt: pair, IP, account, device
// (or ""), and the known-source marker of the pair. own is the key the
// attempt is counted and blocked on progressively: its device if it has
// one, else its pair.
type keys struct{ pair, ip, account, device, known, own string }

func keysOf(a Attempt) keys {
	sum := sha256.Sum256([]byte(storage.EmailKey(a.Email)))
	account := hex.EncodeToString(sum[:16])
	ip := clientNet(a.IP)
	k := keys{pair: "p:" + account + "@" + ip, ip: "i:" + ip, account: "a:" + account, known: "k:" + account + "@" + ip}
	k.own = k.pair
	if a.Device != "" {
		dsum := sha256.Sum256([]byte(a.Device))
		k.device = "d:" + hex.EncodeToString(dsum[:16])
		k.own = k.device
	}
	return k
}

// scopes are the keys whose blocks refuse the attempt, plus the marker
// that decides whether the account's block applies.
func (k keys) scopes() []string {
	if k.device != "" {
		return []string{k.device}
	}
	return []string{k.pair, k.ip, k.account, k.known}
}

// clientNet is the address an IP is counted under: IPv4 as is, IPv6 by
// its /64 (one client usually holds a whole /64).
func clientNet(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// Admit decides whether an attempt may check a password: it returns how
// long the attempt must wait instead (zero: go ahead). It refuses while any
// scope is blocked, and counts the attempt on its (account, IP) pair
// BEFORE the password is checked, so that a burst of simultaneous guesses
// cannot all reach the password check before the first failure is
// recorded: once the pair has used its PairLimit attempts in the window,
// a further attempt goes ahead only when the pair's block has run out,
// and it starts the next (doubled) block itself. A refused attempt is
// audited as login.throttled.
func (g *Guard) Admit(ctx context.Context, a Attempt) (time.Duration, error) {
	wait, why, err := g.blocked(ctx, a)
	if err != nil || wait > 0 {
		return g.refuse(ctx, a, wait, why), err
	}
	k := keysOf(a)
	now := g.now()
	st, err := g.store.AddFailure(ctx, k.own, now, g.p.Window)
	if err != nil {
		return 0, fmt.Errorf("login throttle: %w", err)
	}
	if st.Failures <= g.p.PairLimit {
		return 0, nil
	}
	if st.BlockedUntil.IsZero() || st.BlockedUntil.After(now) {
		// Over the limit with no block that has run out: the attempts
		// before it are still being checked (or a block began meanwhile).
		block := g.pairBlock(st.Failures - 1)
		if err := g.store.BlockThrottle(ctx, k.own, now.Add(block)); err != nil {
			return 0, fmt.Errorf("login throttle: %w", err)
		}
		return g.refuse(ctx, a, block, k.own), nil
	}
	// The block ran out: this attempt goes ahead, and the next block
	// (doubled) starts now, whatever its outcome; success clears it.
	if err := g.store.BlockThrottle(ctx, k.own, now.Add(g.pairBlock(st.Failures))); err != nil {
		return 0, fmt.Errorf("login throttle: %w", err)
	}
	return 0, nil
}

// Blocked reports how long an attempt would have to wait now, changing
// nothing.
func (g *Guard) Blocked(ctx context.Context, a Attempt) (time.Duration, error) {
	wait, _, err := g.blocked(ctx, a)
	return wait, err
}

func (g *Guard) blocked(ctx context.Context, a Attempt) (time.Duration, string, error) {
	k := keysOf(a)
	states, err := g.store.GetThrottles(ctx, k.scopes())
	if err != nil {
		return 0, "", fmt.Errorf("login throttle: %w", err)
	}
	now := g.now()
	known := false
	for _, st := range states {
		if st.Key == k.known && st.BlockedUntil.After(now) {
			known = true
		}
	}
	var wait time.Duration
	var why string
	for _, st := range states {
		if st.Key == k.known || (known && st.Key == k.account) {
			continue
		}
		if d := st.BlockedUntil.Sub(now); d > wait {
			wait, why = d, st.Key
		}
	}
	return wait, why, nil
}

// refuse counts a refused attempt under the block of key (audited once
// per block, see refusals).
func (g *Guard) refuse(ctx context.Context, a Attempt, wait time.Duration, key string) time.Duration {
	if wait > 0 {
		g.refused.add(ctx, g, a, key, g.now(), wait)
	}
	return wait
}

// pairBlock is the block after a pair's n-th counted attempt: Block at
// the limit, doubling with each attempt beyond, at most MaxBlock.
func (g *Guard) pairBlock(n int64) time.Duration {
	return g.progressive(n - g.p.PairLimit)
}

func (g *Guard) progressive(beyond int64) time.Duration {
	block := g.p.Block
	for ; beyond > 0 && block < g.p.MaxBlock; beyond-- {
		block *= 2
	}
	return min(block, g.p.MaxBlock)
}

// accountBlock is the account's block after its n-th failure in the
// window: AccountBlock at the limit, doubling beyond, at most
// max(MaxBlock, AccountBlock).
func (g *Guard) accountBlock(n int64) time.Duration {
	block, most := g.p.AccountBlock, max(g.p.MaxBlock, g.p.AccountBlock)
	for beyond := n - g.p.AccountLimit; beyond > 0 && block < most; beyond-- {
		block *= 2
	}
	return min(block, most)
}

func scope(key string) string {
	switch key[0] {
	case 'p':
		return "account from this IP"
	case 'i':
		return "IP"
	case 'd':
		return "device"
	}
	return "account"
}

// Failed records a failed attempt (after Admit let it through): its pair
// (or device) is blocked once it has used its attempts, the IP and the
// account count the failure and are blocked at their limits.
func (g *Guard) Failed(ctx context.Context, a Attempt) error {
	k := keysOf(a)
	now := g.now()
	g.record(ctx, a, "login.failed", 0, "wrong credentials, unknown or inactive account")
	states, err := g.store.GetThrottles(ctx, []string{k.own})
	if err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	if len(states) == 1 && states[0].Failures >= g.p.PairLimit && !states[0].BlockedUntil.After(now) {
		if err := g.block(ctx, a, k.own, states[0].Failures, now.Add(g.pairBlock(states[0].Failures))); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		key   string
		limit int64
	}{{k.ip, g.p.IPLimit}, {k.account, g.p.AccountLimit}} {
		st, err := g.store.AddFailure(ctx, c.key, now, g.p.Window)
		if err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
		if st.Failures < c.limit {
			continue
		}
		until := now.Add(g.accountBlock(st.Failures))
		if c.key == k.ip {
			until = now.Add(g.progressive(st.Failures - c.limit))
		}
		if err := g.block(ctx, a, c.key, st.Failures, until); err != nil {
			return err
		}
	}
	return nil
}

func (g *Guard) block(ctx context.Context, a Attempt, key string, failures int64, until time.Time) error {
	if err := g.store.BlockThrottle(ctx, key, until); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	g.log.WarnContext(ctx, "login attempts blocked", "scope", scope(key), "failures", failures,
		"for", until.Sub(g.now()).Round(time.Second).String(), "ip", a.IP)
	return nil
}

// Succeeded forgets the failures of the attempt's own source (its pair,
// or its device) — never the account's or the IP's, which other sources
// ran up — marks the pair a known source for KnownFor, and audits the
// login.
func (g *Guard) Succeeded(ctx context.Context, a Attempt, userID int64) error {
	g.record(ctx, a, "login.succeeded", userID, "")
	k := keysOf(a)
	if err := g.store.ResetThrottle(ctx, k.own); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	// A marker row whose BlockedUntil is the end of its known time: the
	// cleanup keeps it until then.
	if err := g.store.BlockThrottle(ctx, k.known, g.now().Add(g.p.KnownFor)); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}

// Cleanup deletes throttle state that no longer matters, in batches.
func (g *Guard) Cleanup(ctx context.Context, batch int) (int64, error) {
	if batch < 1 {
		return 0, fmt.Errorf("login throttle cleanup: batch %d must be positive", batch)
	}
	cutoff := g.now().Add(-g.p.Window)
	var total int64
	for {
		n, err := g.store.DeleteStaleThrottles(ctx, cutoff, batch)
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

func (g *Guard) record(ctx context.Context, a Attempt, typ string, userID int64, detail string) {
	g.recordAt(ctx, a, g.now(), typ, userID, detail)
}

func (g *Guard) recordAt(ctx context.Context, a Attempt, at time.Time, typ string, userID int64, detail string) {
	if g.audit == nil {
		return
	}
	id := a.Identifier
	if id == "" {
		sum := sha256.Sum256([]byte(a.Email))
		id = "sha256:" + hex.EncodeToString(sum[:8])
	}
	if len(id) > 100 {
		id = id[:100]
	}
	if detail == "" {
		detail = "login " + id
	} else {
		detail = "login " + id + ": " + detail
	}
	g.log.InfoContext(ctx, "audit", "event", typ, "user_id", userID, "ip", a.IP, "detail", detail)
	e := storage.AuditEvent{At: at, Type: typ, UserID: userID, IP: a.IP, UserAgent: a.UserAgent, Detail: detail}
	if err := g.audit.RecordAudit(ctx, e); err != nil {
		g.log.ErrorContext(ctx, "record audit event", "type", typ, "err", err)
	}
}
