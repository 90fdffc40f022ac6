package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idp/idp/internal/storage/storagetest"
)

// TestAmbiguousFramingClosesConnection (item 12): a request with both
// Content-Length and Transfer-Encoding: chunked is answered with
// "Connection: close" and the connection is closed, so no second request
// is read from ambiguously framed bytes.
func TestAmbiguousFramingClosesConnection(t *testing.T) {
	e := newEnv(t, storagetest.SQLite(t))
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	body := `{"token":"x"}`
	req := "POST /api/token/verify/ HTTP/1.1\r\nHost: idp.test\r\nContent-Type: application/json\r\n" +
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"d\r\n" + body + "\r\n0\r\n\r\n" +
		"GET /healthz HTTP/1.1\r\nHost: idp.test\r\n\r\n" // a smuggled second request
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 || !resp.Close {
		t.Errorf("status %d, Connection %q: want a 4xx answer and Connection: close", resp.StatusCode, resp.Header.Get("Connection"))
	}
	if second, err := http.ReadResponse(br, nil); err == nil {
		t.Errorf("the connection stayed open and answered a second request: %d", second.StatusCode)
	}
}
