package kafkaproto

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Over MaxConns a new connection is closed before a byte is exchanged,
// authenticated or not the others are; the connections already open keep
// being served, and a slot freed is usable again.
func TestConnectionLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConns = 2 })
	authed := ts.dialAuth(t)
	pending := dialTCP(t, ts.addr) // unauthenticated connections count too
	waitFor(t, "two connections", func() bool { return len(ts.srv.snapshotConns()) == 2 })

	over := dialTCP(t, ts.addr)
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := over.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("third connection: read %d bytes, err %v; want closed at once", n, err)
	}
	if n := ts.obs.refusals(RefusalConnectionLimit); n != 1 {
		t.Fatalf("connection_limit refusals %d, want 1", n)
	}
	if r := authed.roundTrip(metadataReq(12, "t")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
		t.Fatalf("open connection not served: %+v", r)
	}

	pending.Close()
	waitFor(t, "a slot freed", func() bool { return len(ts.srv.snapshotConns()) == 1 })
	again := ts.dialAuth(t)
	if r := again.roundTrip(metadataReq(12, "t")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
		t.Fatalf("connection in the freed slot not served: %+v", r)
	}
}

// Over MaxConnsPerUser the user's next authentication fails with a message
// that says why; its open connections and other users are unaffected, and a
// connection closed gives the slot back.
func TestUserConnectionLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnsPerUser = 2 })
	p1a, p1b := ts.dialAuth(t), ts.dialAuth(t)

	over := ts.dial(t)
	resp := over.saslV1("\x00p1\x00k1", 2)
	if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil ||
		!strings.Contains(*resp.ErrorMessage, "Too many connections: project p1 already has 2 connections") {
		t.Fatalf("third p1 connection: error %d %v", resp.ErrorCode, resp.ErrorMessage)
	}
	over.expectClosed()
	if ts.obs.userRefusals("p1", RefusalUserConnectionLimit) != 1 || ts.obs.refusals(RefusalUserConnectionLimit) != 0 {
		t.Fatalf("refusal not counted: %+v", ts.obs.userRefused)
	}
	if n := ts.obs.authFailures(); n != 0 {
		t.Fatalf("counted as %d failed authentications; the key was right", n)
	}

	p2 := ts.dial(t)
	if r := p2.saslV1("\x00p2\x00k2", 2); r.ErrorCode != 0 {
		t.Fatalf("p2 refused while p1 is at its cap: %d", r.ErrorCode)
	}
	for _, rc := range []*rawClient{p1a, p1b, p2} {
		if r := rc.roundTrip(metadataReq(12, "t")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
			t.Fatalf("open connection not served: %+v", r)
		}
	}

	p1a.conn.Close()
	waitFor(t, "p1's slot freed", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return ts.srv.users["p1"] == 1
	})
	if r := ts.dial(t).saslV1("\x00p1\x00k1", 2); r.ErrorCode != 0 {
		t.Fatalf("p1 refused after closing a connection: %d", r.ErrorCode)
	}
}

// A connection that never authenticates leaves by the authentication
// timeout, its slot of MaxConns with it.
func TestUnauthenticatedConnectionsExpire(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConns = 1; c.AuthTimeout = 300 * time.Millisecond })
	silent := dialTCP(t, ts.addr)
	waitFor(t, "the connection counted", func() bool { return len(ts.srv.snapshotConns()) == 1 })
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("silent connection not closed: %v", err)
	}
	waitFor(t, "the slot freed", func() bool { return len(ts.srv.snapshotConns()) == 0 })
	ts.dialAuth(t)
}

func TestFailureDelay(t *testing.T) {
	const base = 100 * time.Millisecond
	for _, tc := range []struct {
		base, ceiling time.Duration
		recent        int
		want          time.Duration
	}{
		{base, 2 * time.Second, 0, base},
		{base, 2 * time.Second, 1, 200 * time.Millisecond},
		{base, 2 * time.Second, 4, 1600 * time.Millisecond},
		{base, 2 * time.Second, 5, 2 * time.Second},
		{base, 2 * time.Second, 1 << 30, 2 * time.Second},
		{base, base, 3, base},       // ceiling = base: no doubling
		{base, 0, 3, base},          // a ceiling under base never shortens base
		{-1, 2 * time.Second, 3, 0}, // disabled
	} {
		if got := failureDelay(tc.base, tc.ceiling, tc.recent); got != tc.want {
			t.Errorf("failureDelay(%v, %v, %d) = %v, want %v", tc.base, tc.ceiling, tc.recent, got, tc.want)
		}
	}
}

func TestFailureLog(t *testing.T) {
	l := failureLog{m: map[string]*failures{}}
	now := time.Now()
	a := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1000}
	aOtherPort := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 2000}
	b := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 1000}
	for i, tc := range []struct {
		addr net.Addr
		at   time.Duration
		want int
	}{
		{a, 0, 0}, {aOtherPort, time.Second, 1}, {a, 2 * time.Second, 2},
		{b, 2 * time.Second, 0}, // another address starts from nothing
		{a, 2*time.Second + failureMemory + 1, 0},
	} {
		if got := l.add(tc.addr, now.Add(tc.at)); got != tc.want {
			t.Errorf("step %d: %d recent failures, want %d", i, got, tc.want)
		}
	}
	l.forget(now.Add(2*time.Second + failureMemory + 1))
	if _, ok := l.m["10.0.0.2"]; ok || len(l.m) != 1 {
		t.Errorf("after forget: %v", l.m)
	}
}

// Repeated failures from one address are answered later and later; every
// one is counted, and the log carries a few of them, not one line each.
func TestRepeatedAuthFailures(t *testing.T) {
	const base = 40 * time.Millisecond
	ts := startServer(t, func(c *Config) { c.AuthFailureDelay, c.AuthFailureMaxDelay = base, 8*base })
	const attempts = 12
	var last time.Duration
	for i := range attempts {
		rc := ts.dial(t)
		start := time.Now()
		if r := rc.saslV1("\x00p1\x00wrong", 2); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("attempt %d: error %d", i, r.ErrorCode)
		}
		last = time.Since(start)
		if want := failureDelay(base, 8*base, i); last < want {
			t.Fatalf("attempt %d answered after %v, before its delay %v", i, last, want)
		}
		rc.conn.Close()
	}
	if last < 8*base {
		t.Fatalf("the last failure took %v, under the ceiling %v", last, 8*base)
	}
	if n := ts.obs.authFailures(); n != attempts {
		t.Fatalf("%d failures counted, want %d", n, attempts)
	}
	if n := strings.Count(ts.logs.String(), "authentication failed"); n != logBurst {
		t.Fatalf("%d log lines for %d failures, want %d:\n%s", n, attempts, logBurst, ts.logs)
	}
	// The right key from the same address is not delayed into failure.
	if r := ts.dial(t).saslV1("\x00p1\x00k1", 2); r.ErrorCode != 0 {
		t.Fatalf("right key refused after failures: %d", r.ErrorCode)
	}
}

// dialFrom opens a TCP connection to the server from a given loopback
// address (all of 127/8 is local on Linux).
func dialFrom(t *testing.T, ts *testServer, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	nc, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func expectClosedAtOnce(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("read %d bytes, err %v; want closed at once", n, err)
	}
}

// Over MaxPendingPerAddress one address's next unauthenticated connection
// is closed at once; other addresses, and the address once its connections
// have authenticated, are served.
func TestPendingPerAddress(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxPendingPerAddress = 2 })
	first := dialFrom(t, ts, "127.0.0.1")
	dialFrom(t, ts, "127.0.0.1")
	waitFor(t, "two pending", func() bool { return len(ts.srv.snapshotConns()) == 2 })
	expectClosedAtOnce(t, dialFrom(t, ts, "127.0.0.1"))
	if n := ts.obs.refusals(RefusalPendingLimit); n != 1 {
		t.Fatalf("address_pending_limit refusals %d, want 1", n)
	}

	other := tls.Client(dialFrom(t, ts, "127.0.0.2"), ts.client)
	rc := &rawClient{t: t, conn: other, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test"))}
	if r := rc.saslV1("\x00p1\x00k1", 2); r.ErrorCode != 0 {
		t.Fatalf("another address refused: %d", r.ErrorCode)
	}

	// An authenticated connection no longer counts as pending.
	first.Close()
	waitFor(t, "a pending slot freed", func() bool { return len(ts.srv.snapshotConns()) == 2 })
	ts.dialAuth(t)
	dialFrom(t, ts, "127.0.0.1")
	waitFor(t, "pending again", func() bool { return len(ts.srv.snapshotConns()) == 4 })
	expectClosedAtOnce(t, dialFrom(t, ts, "127.0.0.1"))
}

// Refusals before authentication are logged a few at a time, and each is
// counted.
func TestPreAuthRefusalLogs(t *testing.T) {
	ts := startServer(t)
	const n = 12
	for range n {
		nc := dialTCP(t, ts.addr)
		_, _ = nc.Write([]byte("plaintext, not TLS\r\n\r\n"))
		expectClosedAtOnce(t, nc)
	}
	waitFor(t, "refusals counted", func() bool { return ts.obs.refusals(RefusalTLSHandshake) == n })
	if got := strings.Count(ts.logs.String(), "closing unauthenticated connection"); got != logBurst {
		t.Fatalf("%d log lines for %d refusals, want %d:\n%s", got, n, logBurst, ts.logs)
	}
}

// emfileListener fails its first Accepts with EMFILE, as a process out of
// descriptors would.
type emfileListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Out of descriptors, the accept loop backs off and keeps serving.
func TestAcceptEMFILE(t *testing.T) {
	stls, ctls := testTLS(t)
	srv, err := New(Config{TLS: stls, Auth: &testAuth{}, Handler: newTestHandler(), APIs: testAPIs,
		Logger: slog.New(slog.DiscardHandler), SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln := &emfileListener{Listener: mustListen(t)}
	ln.failures.Store(4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	ts := &testServer{srv: srv, addr: ln.Addr().String(), client: ctls}
	rc := ts.dialAuth(t)
	if r := rc.roundTrip(metadataReq(12, "t")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
		t.Fatalf("not served after EMFILE: %+v", r)
	}
	if n := ln.failures.Load(); n >= 0 {
		t.Fatalf("the listener's failures were not all met (%d left)", n+1)
	}
	cancel()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve returned %v", err)
	}
}
