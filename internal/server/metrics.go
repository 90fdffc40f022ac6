package server

import (
	"context"
	"errors"
	"time"

	"github.com/idp/idp/internal/authn"
	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/httpapi"
	"github.com/idp/idp/internal/metrics"
	"github.com/idp/idp/internal/oauth2"
	"github.com/idp/idp/internal/signer"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/postgres"
	"github.com/idp/idp/internal/tokens"
	"github.com/idp/idp/internal/users"
)

// newMetrics builds the collectors when metrics.addr is set (nil
// otherwise): the core is adapted here, so that it never imports
// prometheus.
func newMetrics(cfg config.Config, store storage.Store, version string, now func() time.Time) *metrics.Metrics {
	if cfg.Metrics.Addr == "" {
		return nil
	}
	opts := metrics.Options{
		Version:    version,
		AccessAlgs: []string{cfg.Keys.AccessAlgorithm},
		Now:        now,
		Uses:       map[string]string{"access": cfg.Keys.AccessAlgorithm, "refresh": cfg.Keys.RefreshAlgorithm},
	}
	if pg, ok := store.(*postgres.Store); ok {
		opts.DBStats = func() (metrics.DBStats, bool) {
			s := pg.PoolStat()
			return metrics.DBStats{
				AcquiredConns: s.AcquiredConns(), IdleConns: s.IdleConns(), TotalConns: s.TotalConns(), MaxConns: s.MaxConns(),
				Acquires: s.AcquireCount(), EmptyAcquires: s.EmptyAcquireCount(), CanceledAcquires: s.CanceledAcquireCount(),
				AcquireWait: s.AcquireDuration(),
			}, true
		}
	}
	return metrics.New(opts)
}

// attachMetrics points the gauges that read state at scrape time at the
// built services.
func attachMetrics(m *metrics.Metrics, sig *signer.Signer, us *users.Service) {
	m.Attach(sig, us.HashQueueDepth)
}

// meteredTokens counts the tokens the API issues and the outcome of every
// refresh. Methods it does not override pass through.
type meteredTokens struct {
	httpapi.Tokens
	m                     *metrics.Metrics
	accessAlg, refreshAlg string
}

func (t meteredTokens) Login(ctx context.Context, u storage.User, c tokens.Client) (tokens.Pair, error) {
	p, err := t.Tokens.Login(ctx, u, c)
	if err == nil {
		t.m.TokenIssued(metrics.GrantPassword, t.accessAlg)
	}
	return p, err
}

func (t meteredTokens) Refresh(ctx context.Context, refresh string, c tokens.Client) (tokens.Pair, error) {
	p, err := t.Tokens.Refresh(ctx, refresh, c)
	t.m.Refresh(refreshOutcome(err))
	if err == nil {
		t.m.TokenIssued(metrics.GrantRefreshToken, t.accessAlg)
	}
	return p, err
}

func refreshOutcome(err error) string {
	switch {
	case err == nil:
		return metrics.RefreshSuccess
	case errors.Is(err, tokens.ErrBlacklisted):
		return metrics.RefreshBlacklisted
	case errors.Is(err, tokens.ErrNoActiveAccount):
		return metrics.RefreshInactive
	case errors.Is(err, tokens.ErrTokenInvalid), errors.Is(err, tokens.ErrWrongType), errors.Is(err, tokens.ErrNoUserID):
		return metrics.RefreshInvalid
	}
	return metrics.RefreshError
}

// meteredLogin counts password logins by outcome.
type meteredLogin struct {
	next httpapi.Login
	m    *metrics.Metrics
}

func (l meteredLogin) Login(ctx context.Context, a authn.Attempt) (authn.Result, error) {
	r, err := l.next.Login(ctx, a)
	l.m.Login(loginOutcome(err))
	return r, err
}

func loginOutcome(err error) string {
	switch {
	case err == nil:
		return metrics.LoginSuccess
	case errors.Is(err, authn.ErrInvalidCredentials):
		return metrics.LoginBadCredentials
	case errors.Is(err, authn.ErrThrottled):
		return metrics.LoginThrottled
	case errors.Is(err, authn.ErrBusy):
		return metrics.LoginBusy
	}
	return metrics.LoginError
}

// meteredGrants counts what the OAuth 2.0 token endpoint issues, with the
// same series as the tutorial API (idp_tokens_issued_total by grant,
// idp_refreshes_total by outcome). Methods it does not override pass
// through.
type meteredGrants struct {
	oauth2.Tokens
	m         *metrics.Metrics
	accessAlg string
}

func (g meteredGrants) IssueClient(ctx context.Context, gr tokens.Grant) (tokens.GrantTokens, error) {
	t, err := g.Tokens.IssueClient(ctx, gr)
	if err == nil {
		g.m.TokenIssued(metrics.GrantClientCredentials, g.accessAlg)
	}
	return t, err
}

func (g meteredGrants) LoginGrant(ctx context.Context, u storage.User, gr tokens.Grant, withRefresh bool, c tokens.Client) (tokens.GrantTokens, error) {
	t, err := g.Tokens.LoginGrant(ctx, u, gr, withRefresh, c)
	if err == nil {
		g.m.TokenIssued(metrics.GrantPassword, g.accessAlg)
	}
	return t, err
}

func (g meteredGrants) RefreshGrant(ctx context.Context, refresh string, gr tokens.Grant, c tokens.Client) (tokens.GrantTokens, error) {
	t, err := g.Tokens.RefreshGrant(ctx, refresh, gr, c)
	g.m.Refresh(refreshOutcome(err))
	if err == nil {
		g.m.TokenIssued(metrics.GrantRefreshToken, g.accessAlg)
	}
	return t, err
}
