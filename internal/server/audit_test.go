package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

func fileSizes(t *testing.T, base string) int64 {
	t.Helper()
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(base + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestRefusedLoginFloodDoesNotFillTheDisk (item 2): a 60-second flood of
// refused logins (6,000 at 100/s) against blocked pairs adds a handful of
// aggregated audit events and log lines, not one per attempt, and grows
// the SQLite database (with WAL) by less than 100 kB.
func TestRefusedLoginFloodDoesNotFillTheDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.db")
	store := storagetest.OpenSQLite(t, path)
	var logs lockedBuffer
	clock := newClock()
	cfg := testConfig()
	proxied(&cfg)
	srv, err := New(context.Background(), Options{Config: cfg, Store: store, KEKs: [][]byte{testKEK(t)}, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	e := &env{t: t, srv: srv, store: store, clock: clock, url: ts.URL, client: ts.Client()}
	e.register("V", "victim@example.com", password)
	for range 5 { // block the attacker's pair
		e.attempt("victim@example.com", "guess", "203.0.113.9")
	}
	ctx := context.Background()
	before := fileSizes(t, path)
	eventsBefore, _ := store.ListAudit(ctx, 0, 100000)
	logLinesBefore := strings.Count(logs.String(), "\n")
	refused := 0
	for i := range 6000 {
		if r := e.attempt("victim@example.com", "guess", "203.0.113.9"); r.status == 429 {
			refused++
		}
		clock.Advance(10 * time.Millisecond)
		if i%500 == 0 {
			srv.Guard.FlushRefusals(ctx, false) // the server's loop, every 5 s
		}
	}
	srv.Guard.FlushRefusals(ctx, true)
	events, _ := store.ListAudit(ctx, 0, 100000)
	added := events[len(eventsBefore):]
	throttled := 0
	for _, ev := range added {
		if ev.Type == "login.throttled" {
			throttled++
		}
	}
	growth := fileSizes(t, path) - before
	logLines := strings.Count(logs.String(), "\n") - logLinesBefore
	t.Logf("60 s flood: %d refused of 6000; %d audit events (%d login.throttled); %d log lines beyond the 6000 request lines; database+WAL grew %d bytes",
		refused, len(added), throttled, logLines-6000, growth)
	if refused < 5900 {
		t.Fatalf("only %d refused: the flood was not against a block", refused)
	}
	if len(added) > 20 {
		t.Errorf("%d audit events for a refused flood, want a few (one per block)", len(added))
	}
	if extra := logLines - 6000; extra > 40 { // one request line each, plus a few per block
		t.Errorf("%d log lines beyond the request log", extra)
	}
	if growth >= 100<<10 {
		t.Errorf("database grew %d bytes, want < 100 kB", growth)
	}
}

// TestAuditRetention (item 2): the janitor deletes audit events older than
// audit.retention (90 days by default), in batches, and keeps the rest.
func TestAuditRetention(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		e := newEnv(t, store, func(c *config.Config) { c.Tokens.FlushBatch = 2 })
		ctx := context.Background()
		now := e.clock.Now()
		for i, age := range []time.Duration{91 * 24 * time.Hour, 100 * 24 * time.Hour, 400 * 24 * time.Hour, 89 * 24 * time.Hour, time.Hour} {
			b, _ := json.Marshal(i)
			if err := store.RecordAudit(ctx, storage.AuditEvent{At: now.Add(-age), Type: "test." + string(b)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := e.srv.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		events, _ := store.ListAudit(ctx, 0, 100)
		var kept []string
		for _, ev := range events {
			if strings.HasPrefix(ev.Type, "test.") {
				kept = append(kept, ev.Type)
			}
		}
		if strings.Join(kept, ",") != "test.3,test.4" {
			t.Errorf("kept %v, want the events younger than 90 days (test.3, test.4)", kept)
		}
	})
}
