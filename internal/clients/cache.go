package clients

import (
	"context"
	"sync"
	"time"

	"github.com/idp/idp/internal/storage"
)

// clientCache keeps the client records Authenticate read for a short TTL,
// so that a busy client (thousands of token or introspection requests a
// second) costs no database read per request. Only clients that exist are
// kept, so its size is bounded by the registry's.
type clientCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cachedClient
}

type cachedClient struct {
	c    storage.Client
	read time.Time
}

func newClientCache(ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{ttl: ttl, now: now, m: map[string]cachedClient{}}
}

func (cc *clientCache) get(ctx context.Context, store storage.Clients, id string) (storage.Client, error) {
	if cc.ttl <= 0 {
		return store.GetClient(ctx, id)
	}
	now := cc.now()
	cc.mu.Lock()
	e, ok := cc.m[id]
	cc.mu.Unlock()
	if ok && now.Sub(e.read) < cc.ttl && !now.Before(e.read) {
		return e.c, nil
	}
	c, err := store.GetClient(ctx, id)
	if err != nil {
		cc.forget(id)
		return c, err
	}
	cc.mu.Lock()
	cc.m[id] = cachedClient{c: c, read: now}
	cc.mu.Unlock()
	return c, nil
}

func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}
