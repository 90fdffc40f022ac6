package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// TestSlowHeaderClients: 200 connections trickling header bytes (slowloris)
// neither stop normal requests from being served nor stay open: each is
// closed after http.read_header_timeout.
func TestSlowHeaderClients(t *testing.T) {
	const slow = 200
	const timeout = 3 * time.Second
	cfg := testConfig()
	cfg.HTTP.ReadHeaderTimeout = timeout
	srv := newTestServer(t, storagetest.SQLite(t), Options{Config: cfg})
	r := startRun(t, srv)

	var open atomic.Int64
	var wg sync.WaitGroup
	closed := make(chan error, slow)
	started := make(chan struct{}, slow)
	for i := range slow {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		open.Add(1)
		wg.Add(2)
		go func() { // a header byte every timeout/6, until the server hangs up
			defer wg.Done()
			if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: idp.test\r\nX-Slow: "); err != nil {
				return
			}
			started <- struct{}{}
			tick := time.NewTicker(timeout / 6)
			defer tick.Stop()
			for range tick.C {
				if _, err := c.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		go func() { // the server closing the connection ends this read
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(20 * timeout))
			_, err := io.Copy(io.Discard, c)
			open.Add(-1)
			closed <- err
		}()
	}
	for range slow {
		<-started
	}

	// Normal clients are served while the slow ones hold their connections.
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 20 {
		resp, err := client.Get(r.url + "/healthz")
		if err != nil {
			t.Fatalf("normal request %d during the slow-client attack: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("normal request %d: %d", i, resp.StatusCode)
		}
		body := fmt.Sprintf(`{"name":"N","email":"n%d@example.com","password":"normal-passphrase-%d"}`, i, i)
		resp, err = client.Post(r.url+"/api/register/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("normal registration %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("normal registration %d: %d", i, resp.StatusCode)
		}
	}
	if n := open.Load(); n == 0 {
		t.Fatal("every slow client was already closed when the normal requests ended: the test proved nothing")
	}

	for i := range slow {
		if err := <-closed; err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("slow client %d still open after %s (read_header_timeout %s)", i, 20*timeout, timeout)
			}
			// A reset is the server closing too.
		}
	}
	wg.Wait()
}

// acceptLog records the client addresses of the connections the server
// accepted: a request on any other connection never reached it.
type acceptLog struct {
	net.Listener
	mu   sync.Mutex
	seen map[string]bool
}

func (l *acceptLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.seen[c.RemoteAddr().String()] = true
		l.mu.Unlock()
	}
	return c, err
}

func (l *acceptLog) accepted(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[addr]
}

// TestGracefulShutdownUnderLoad: cancelling Run (SIGTERM) during a refresh
// load answers every request on every connection the server accepted; the
// only failures are connections it never accepted (refused or reset by the
// closed listener). Run returns nil, within http.shutdown_timeout.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		srv := newTestServer(t, store, Options{})
		alog := &acceptLog{seen: map[string]bool{}}
		r := startRun(t, srv, func(ln net.Listener) net.Listener { alog.Listener = ln; return alog })

		post := func(c *http.Client, path, body string) (*http.Response, []byte, string, error) {
			var local string
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(i httptrace.GotConnInfo) { local = i.Conn.LocalAddr().String() },
			})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				return nil, nil, local, err
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, b, local, err
		}
		setup := &http.Client{}
		if resp, b, _, err := post(setup, "/api/register/", `{"name":"L","email":"load@example.com","password":"load-passphrase-1"}`); err != nil || resp.StatusCode != 200 {
			t.Fatalf("register: %v %s", err, b)
		}

		const workers = 8
		var ok, closing atomic.Int64
		var mu sync.Mutex
		var lost []string
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
			resp, b, _, err := post(c, "/api/token/", `{"email":"load@example.com","password":"load-passphrase-1"}`)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("login %d: %v %s", w, err, b)
			}
			var p struct{ Refresh string }
			_ = json.Unmarshal(b, &p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					resp, b, local, err := post(c, "/api/token/refresh/", `{"refresh":"`+p.Refresh+`"}`)
					switch {
					case err != nil:
						if local != "" && alog.accepted(local) {
							mu.Lock()
							lost = append(lost, fmt.Sprintf("worker %d on %s: %v", w, local, err))
							mu.Unlock()
						}
						continue // refused or reset before the server accepted: never read
					case resp.StatusCode != http.StatusOK:
						mu.Lock()
						lost = append(lost, fmt.Sprintf("worker %d: %d %s", w, resp.StatusCode, b))
						mu.Unlock()
						return
					}
					ok.Add(1)
					if resp.Close {
						closing.Add(1)
					}
					_ = json.Unmarshal(b, &p)
				}
			}()
		}
		eventually(t, 60*time.Second, "200 refreshes answered under load", func() bool { return ok.Load() >= 200 })
		before := ok.Load()
		r.cancel()
		if err := r.result(t); err != nil {
			t.Errorf("Run returned %v after a graceful shutdown under load", err)
		}
		close(stop)
		wg.Wait()
		for _, l := range lost {
			t.Error("request read but not answered: " + l)
		}
		if closing.Load() == 0 {
			t.Error("no answer carried Connection: close: shutdown did not overlap the load")
		}
		t.Logf("%d refreshes answered before shutdown, %d after it began; %d told to close", before, ok.Load()-before, closing.Load())
	})
}
