package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drainQuiet is how long a keep-alive connection must have stayed idle,
// after draining began, before shutdown may close it. A client that sends
// on it sooner is answered (with Connection: close); only a connection its
// client left unused is closed unanswered-free.
const drainQuiet = 250 * time.Millisecond

// drainer lets a shutdown answer every request the server has read. Go's
// http.Server.Shutdown closes keep-alive connections it sees idle, and a
// connection stays "idle" until a whole request header has arrived on it,
// so a request that was on the wire is closed unanswered. Instead: stop
// accepting, mark every answer Connection: close (so each connection ends
// after its current request), wait until no connection is reading or
// serving a request and the idle ones have been quiet for drainQuiet, and
// only then call Shutdown, which then has nothing in flight to cut.
type drainer struct {
	draining atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]connState
	// changed is closed and replaced whenever a connection changes state.
	changed chan struct{}
}

type connState struct {
	state http.ConnState
	since time.Time
}

func newDrainer() *drainer {
	return &drainer{conns: map[net.Conn]connState{}, changed: make(chan struct{})}
}

// track is the http.Server's ConnState hook.
func (d *drainer) track(c net.Conn, st http.ConnState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(d.conns, c)
	default:
		d.conns[c] = connState{state: st, since: time.Now()}
	}
	close(d.changed)
	d.changed = make(chan struct{})
}

// wrap marks every answer whose header is written while draining
// Connection: close, also of requests that were in flight when draining
// began.
func (d *drainer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&closingWriter{ResponseWriter: w, d: d}, r)
	})
}

// closingWriter adds Connection: close to a header written while draining.
type closingWriter struct {
	http.ResponseWriter
	d     *drainer
	wrote bool
}

func (w *closingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if w.d.draining.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closingWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *closingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes on to the connection's writer.
func (w *closingWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// drain stops new keep-alives and waits until the server has no request
// in flight (or ctx ends). The caller has stopped accepting.
func (d *drainer) drain(ctx context.Context) {
	d.draining.Store(true)
	start := time.Now()
	for {
		wait, changed := d.busy(start)
		if wait == 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// busy is 0 when every connection is idle and quiet, else how long to
// wait at most before looking again, with the channel closed at the next
// state change.
func (d *drainer) busy(start time.Time) (time.Duration, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	var wait time.Duration
	for _, cs := range d.conns {
		switch cs.state {
		case http.StateIdle:
			quietSince := cs.since
			if quietSince.Before(start) {
				quietSince = start
			}
			if left := drainQuiet - now.Sub(quietSince); left > 0 {
				wait = max(wait, left)
			}
		default: // new (request not yet read) or active
			wait = max(wait, drainQuiet)
		}
	}
	return wait, d.changed
}

// closeOnce is a listener whose second Close is a no-op, so that Run can
// stop accepting before http.Server.Shutdown closes it again.
type closeOnce struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *closeOnce) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
