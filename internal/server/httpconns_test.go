package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-io/sluice/internal/limits"
)

// testHTTP serves h like Run does, with lim.
func testHTTP(t *testing.T, h http.Handler, lim limits.Connections) (addr string, capped *capListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := newHTTPServer(h, lim, ln, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	go serveHTTP(srv, capped)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), capped
}

type rawHTTP struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialHTTP(t *testing.T, addr string) *rawHTTP {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawHTTP{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// get sends a GET on the connection and returns the answer's status and body.
func (c *rawHTTP) get(path string) (int, string, error) {
	_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c.nc, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		return 0, "", err
	}
	return c.read()
}

func (c *rawHTTP) read() (int, string, error) {
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// expectClosed asserts that the server closes the connection within d.
func (c *rawHTTP) expectClosed(d time.Duration) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.ReadByte()
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("connection not closed within %v: %v", d, err)
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	fmt.Fprint(w, "ok")
})

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// At the cap a new connection takes the place of the longest-idle one; with
// none idle it is answered 503 with a Keen-style error, closed and counted,
// while the busy connections are served to the end.
func TestHTTPConnectionCap(t *testing.T) {
	lim := limits.DefaultConnections()
	lim.MaxHTTPConnections = 2
	release, release2 := make(chan struct{}), make(chan struct{})
	defer close(release2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/block":
			<-release
		case "/block2":
			<-release2
		}
		fmt.Fprint(w, "ok")
	})
	addr, capped := testHTTP(t, h, lim)

	busy := dialHTTP(t, addr)
	fmt.Fprint(busy.nc, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	silent := dialHTTP(t, addr) // sent nothing yet: within its grace
	start := time.Now()
	waitUntil(t, "two open", func() bool { return capped.open.Load() == 2 })

	over := dialHTTP(t, addr)
	_ = over.nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(over.nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(over.br, nil)
	if err != nil {
		t.Fatalf("connection over the cap, none idle: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if st, body := resp.StatusCode, string(b); st != 503 || !strings.Contains(body, `"error_code":"TooManyConnectionsError"`) ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("connection over the cap, none idle: %d %v %q", st, resp.Header, body)
	}
	over.expectClosed(5 * time.Second)
	if n := counter(t, capped.refused); n != 1 {
		t.Fatalf("refused counter %v, want 1", n)
	}

	close(release)
	if st, body, err := busy.read(); err != nil || st != 200 || body != "ok" {
		t.Fatalf("busy connection not served to the end: %d %q %v", st, body, err)
	}
	// busy is idle now: the next client takes its place.
	waitUntil(t, "busy idle", func() bool {
		capped.mu.Lock()
		defer capped.mu.Unlock()
		return capped.idle.Len() == 1
	})
	replacing := dialHTTP(t, addr)
	fmt.Fprint(replacing.nc, "GET /block2 HTTP/1.1\r\nHost: x\r\n\r\n") // busy from now on
	busy.expectClosed(5 * time.Second)
	if n := counter(t, capped.evicted); n != 1 {
		t.Fatalf("evicted counter %v, want 1", n)
	}

	// A connection that never sends a request gives way after its grace.
	time.Sleep(freshGrace - time.Since(start) + 200*time.Millisecond)
	if st, _, err := dialHTTP(t, addr).get("/"); err != nil || st != 200 {
		t.Fatalf("connection replacing a silent one: %d %v", st, err)
	}
	silent.expectClosed(5 * time.Second)
	if n := counter(t, capped.refused); n != 1 {
		t.Fatalf("refused counter %v, want still 1", n)
	}
}

// Idle keep-alive connections and slow bodies are closed by their timeouts;
// a handler that runs longer than the read timeout (a long query) is not
// cancelled by it, with or without a body.
func TestHTTPTimeouts(t *testing.T) {
	const short = 300 * time.Millisecond
	lim := limits.DefaultConnections()
	lim.HTTPReadTimeout, lim.HTTPIdleTimeout = short, short
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		select {
		case <-time.After(3 * short):
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			// Nobody reads this answer; the client sees the close.
		}
	})
	addr, _ := testHTTP(t, slow, lim)

	t.Run("idle keep-alive", func(t *testing.T) {
		t.Parallel()
		c := dialHTTP(t, addr)
		if st, _, err := c.get("/"); err != nil || st != 200 {
			t.Fatalf("%d %v", st, err)
		}
		c.expectClosed(10 * short)
	})
	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		c := dialHTTP(t, addr)
		fmt.Fprint(c.nc, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
		_ = c.nc.SetReadDeadline(time.Now().Add(10 * short))
		st, _, err := c.read()
		if err == nil && st != 400 {
			t.Fatalf("slow body answered %d", st)
		}
		c.expectClosed(10 * short)
	})
	for _, tc := range []struct{ name, req string }{
		{"long handler after a body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"},
		{"long handler without a body", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialHTTP(t, addr)
			_ = c.nc.SetDeadline(time.Now().Add(20 * short))
			fmt.Fprint(c.nc, tc.req)
			if st, body, err := c.read(); err != nil || st != 200 || body != "done" {
				t.Fatalf("%d %q %v", st, body, err)
			}
		})
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialHTTPFrom is dialHTTP from a chosen local address.
func dialHTTPFrom(t *testing.T, addr, from string) *rawHTTP {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawHTTP{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// One remote address holds at most MaxHTTPConnectionsPerAddress
// connections: past it, a new one of that address takes the place of its
// own idle one, or, none idle, is answered 429 and closed; other addresses
// are served meanwhile, and their idle connections are not taken.
func TestHTTPConnectionCapPerAddress(t *testing.T) {
	lim := limits.DefaultConnections()
	lim.MaxHTTPConnections, lim.MaxHTTPConnectionsPerAddress = 10, 2
	release1, release2 := make(chan struct{}), make(chan struct{})
	defer close(release2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/block1":
			<-release1
		case "/block2":
			<-release2
		}
		fmt.Fprint(w, "ok")
	})
	addr, capped := testHTTP(t, h, lim)

	other := dialHTTPFrom(t, addr, "127.0.0.1") // idle between requests from here on
	if st, _, err := other.get("/"); err != nil || st != 200 {
		t.Fatalf("another address: %d %v", st, err)
	}
	busy1, busy2 := dialHTTPFrom(t, addr, "127.0.0.2"), dialHTTPFrom(t, addr, "127.0.0.2")
	fmt.Fprint(busy1.nc, "GET /block1 HTTP/1.1\r\nHost: x\r\n\r\n")
	fmt.Fprint(busy2.nc, "GET /block2 HTTP/1.1\r\nHost: x\r\n\r\n")
	waitUntil(t, "three open", func() bool { return capped.open.Load() == 3 })

	over := dialHTTPFrom(t, addr, "127.0.0.2")
	_ = over.nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(over.nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(over.br, nil)
	if err != nil {
		t.Fatalf("a third connection of one address, none idle: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), `"error_code":"TooManyConnectionsError"`) ||
		!strings.Contains(string(b), "from your address") {
		t.Fatalf("a third connection of one address: %d %v %q", resp.StatusCode, resp.Header, b)
	}
	over.expectClosed(5 * time.Second)
	if n := counter(t, capped.refusedAddr); n != 1 {
		t.Fatalf("refused per address %v, want 1", n)
	}
	if st, _, err := dialHTTPFrom(t, addr, "127.0.0.3").get("/"); err != nil || st != 200 {
		t.Fatalf("a third address meanwhile: %d %v", st, err)
	}
	if st, _, err := other.get("/"); err != nil || st != 200 {
		t.Fatalf("the other address's connection meanwhile: %d %v", st, err)
	}

	// busy1 idle: the address's next connection takes its place, not the
	// other address's idle one.
	close(release1)
	if st, _, err := busy1.read(); err != nil || st != 200 {
		t.Fatalf("busy connection: %d %v", st, err)
	}
	waitUntil(t, "busy1 idle", func() bool {
		capped.mu.Lock()
		defer capped.mu.Unlock()
		for e := capped.idle.Front(); e != nil; e = e.Next() {
			if e.Value.(*countedConn).addr == "127.0.0.2" {
				return true
			}
		}
		return false
	})
	if st, _, err := dialHTTPFrom(t, addr, "127.0.0.2").get("/"); err != nil || st != 200 {
		t.Fatalf("a connection replacing its address's idle one: %d %v", st, err)
	}
	busy1.expectClosed(5 * time.Second)
	if st, _, err := other.get("/"); err != nil || st != 200 {
		t.Fatalf("the other address's idle connection was taken: %d %v", st, err)
	}
	if n := counter(t, capped.refusedAddr); n != 1 {
		t.Fatalf("refused per address %v, want still 1", n)
	}
}
