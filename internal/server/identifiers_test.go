package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/idp/idp/internal/storage/storagetest"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoRawLoginIdentifiers (item 9): what a client sends as the login
// identifier reaches the logs and the audit table only if it is a valid
// address; a password typed into the email field appears nowhere.
func TestNoRawLoginIdentifiers(t *testing.T) {
	store := storagetest.SQLite(t)
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := newClock()
	srv, err := New(context.Background(), Options{Config: testConfig(), Store: store, KEKs: [][]byte{testKEK(t)}, Now: clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	e := &env{t: t, srv: srv, store: store, clock: clock, url: ts.URL, client: ts.Client()}
	e.register("A", "alice@example.com", password)

	const secretInEmailField = "Sup3r-Secret-Passw0rd!"
	for range 7 { // enough to be throttled too
		b, _ := json.Marshal(map[string]string{"email": secretInEmailField, "password": "alice@example.com"})
		e.post("/api/token/", string(b))
	}
	b, _ := json.Marshal(map[string]string{"email": "alice@example.com", "password": "wrong-one"})
	e.post("/api/token/", string(b))

	events, err := store.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	sawAddress, sawHash := false, false
	for _, ev := range events {
		if strings.Contains(ev.Detail, "Secret") {
			t.Errorf("audit event %s holds the raw identifier: %q", ev.Type, ev.Detail)
		}
		sawAddress = sawAddress || strings.Contains(ev.Detail, "alice@example.com")
		sawHash = sawHash || strings.Contains(ev.Detail, "hmac:")
	}
	if !sawAddress || !sawHash {
		t.Errorf("audit should name the valid address and hash the other: address %v, hash %v: %+v", sawAddress, sawHash, events)
	}
	if strings.Contains(logs.String(), "Secret") {
		t.Errorf("logs hold the raw identifier:\n%s", logs.String())
	}
}
