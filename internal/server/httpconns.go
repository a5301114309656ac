package server

import (
	"container/list"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/ratelog"
)

// newHTTPServer is the API's server on ln, capped at MaxHTTPConnections
// (capListener), with every timeout set: headers within 10 s, the whole
// request within HTTPReadTimeout, the answer within HTTPWriteTimeout of the
// headers (net/http counts the handler's work in it, so it must outlast the
// longest query), keep-alive connections closed after HTTPIdleTimeout
// without a request. net/http lifts the read deadline once a body has been
// read, so a handler outliving HTTPReadTimeout is not cancelled by it
// (TestHTTPTimeouts). With tlsCfg the server speaks HTTPS. Serve it with
// serveHTTP.
func newHTTPServer(h http.Handler, lim limits.Connections, ln net.Listener, tlsCfg *tls.Config, reg prometheus.Registerer, logger *slog.Logger) (*http.Server, *capListener) {
	capped := newCapListener(ln, lim.MaxHTTPConnections, lim.MaxHTTPConnectionsPerAddress, reg, logger)
	capped.tls = tlsCfg != nil
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       lim.HTTPReadTimeout,
		WriteTimeout:      lim.HTTPWriteTimeout,
		IdleTimeout:       lim.HTTPIdleTimeout,
		ConnState:         capped.ConnState,
		ErrorLog:          log.New(ratedWriter{ratelog.New(logger, slog.LevelWarn, "HTTP server", 10*time.Second, 5)}, "", 0),
	}, capped
}

// serveHTTP serves srv on capped (both from newHTTPServer) until it is
// shut down: HTTPS when srv has a TLS configuration.
func serveHTTP(srv *http.Server, capped *capListener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(capped, "", "")
	}
	return srv.Serve(capped)
}

// ratedWriter turns net/http's log lines (accept errors and their backoff,
// and lines some client requests cause) into rate-limited log records.
type ratedWriter struct{ l *ratelog.Limiter }

func (w ratedWriter) Write(p []byte) (int, error) {
	w.l.Log("err", strings.TrimSpace(string(p)))
	return len(p), nil
}

// overCapResponse is what a connection over the cap reads: a Keen-style
// 503 a client can show and retry, rather than a reset it cannot tell from
// a network fault. It carries the Keen API's CORS headers (httpapi), so
// that a page sees the 503 too.
var overCapResponse = func() []byte {
	body := `{"message":"Too many open connections to this server; retry later","error_code":"TooManyConnectionsError"}`
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"+
		"Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Retry-After\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

// overAddressResponse is what a connection over its address's cap reads:
// a 429, the client's own doing.
var overAddressResponse = func() []byte {
	body := `{"message":"Too many open connections from your address to this server; close some or retry later","error_code":"TooManyConnectionsError"}`
	return fmt.Appendf(nil, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"+
		"Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Retry-After\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

// Refusing is itself bounded: at most refusersMax connections over the cap
// are being answered at once, each for at most refuseTime (the answer, and
// a short wait for the request so that closing does not reset the
// connection before the client read the answer); the rest are closed
// without an answer.
const (
	refusersMax = 64
	refuseTime  = 500 * time.Millisecond
)

// freshGrace is how long a new connection may take to start its first
// request before it may be closed to make room: a client sends its request
// right after connecting.
const freshGrace = 2 * time.Second

// capListener caps the open connections accepted through it. At the cap, a
// new connection takes the place of the longest-idle keep-alive connection
// (or of one that has sent nothing for freshGrace): closing an idle
// keep-alive connection is routine for HTTP clients, and otherwise whoever
// holds the most idle connections would lock everyone else out. If every
// connection is busy, the new one is answered 503 and closed. A remote
// address holds at most perAddr connections (0: no cap): at it, a new one
// takes the place of that address's own longest-idle connection, or is
// answered 429 and closed, so one source cannot take every slot with
// connections it keeps busy. Errors of the listener (EMFILE among them) are
// returned as they are, for http.Server's backoff. Its ConnState must be
// the server's hook.
type capListener struct {
	net.Listener
	// tls: the server speaks TLS on the accepted connections, so a
	// connection over the cap cannot be answered in plain HTTP.
	tls         bool
	max         int64
	perAddr     int
	open        atomic.Int64
	refusers    chan struct{}
	refused     prometheus.Counter
	refusedAddr prometheus.Counter
	evicted     prometheus.Counter
	log         *ratelog.Limiter
	logAddr     *ratelog.Limiter

	mu     sync.Mutex
	idle   list.List      // *countedConn between requests, longest idle first
	fresh  list.List      // *countedConn that have not started a request, oldest first
	byAddr map[string]int // open connections by remote address (with perAddr)
}

func newCapListener(ln net.Listener, max, perAddr int, reg prometheus.Registerer, logger *slog.Logger) *capListener {
	l := &capListener{
		Listener: ln,
		max:      int64(max),
		perAddr:  perAddr,
		byAddr:   map[string]int{},
		refusers: make(chan struct{}, refusersMax),
		refusedAddr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_http_connections_refused_per_address_total",
			Help: "HTTP connections answered 429 and closed because their remote address held its maximum of open connections, none of them idle.",
		}),
		logAddr: ratelog.New(logger, slog.LevelWarn, "HTTP connection limit of one address reached; refusing its new connection", 10*time.Second, 5),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_http_connections_refused_total",
			Help: "HTTP connections answered 503 and closed because the server held its maximum of open connections, none of them idle.",
		}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_http_connections_evicted_total",
			Help: "Idle HTTP connections closed to make room for a new one at the maximum of open connections.",
		}),
		log: ratelog.New(logger, slog.LevelWarn, "HTTP connection limit reached; refusing new connection", 10*time.Second, 5),
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_http_connections", Help: "Open connections of the HTTP API.",
	}, func() float64 { return float64(l.open.Load()) })
	if reg != nil {
		reg.MustRegister(l.refused, l.refusedAddr, l.evicted, open)
	}
	return l
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteHost(nc)
		if !l.takeAddr(addr) {
			if v := l.victim(time.Now(), addr); v != nil {
				l.evicted.Inc()
				v.Close() // gives its slots back at once
			}
			if !l.takeAddr(addr) {
				l.refusedAddr.Inc()
				l.logAddr.Log("remote", nc.RemoteAddr().String(), "limit", l.perAddr)
				l.refuseConn(nc, overAddressResponse)
				continue
			}
		}
		c := &countedConn{Conn: nc, l: l, addr: addr}
		if l.open.Add(1) <= l.max {
			return c, nil
		}
		l.open.Add(-1)
		if v := l.victim(time.Now(), ""); v != nil {
			l.evicted.Inc() // before the close: whoever sees it end sees it counted
			v.Close()       // gives its slot back at once
			l.open.Add(1)
			return c, nil
		}
		l.releaseAddr(addr)
		l.refused.Inc()
		l.log.Log("remote", nc.RemoteAddr().String(), "limit", l.max)
		l.refuseConn(nc, overCapResponse)
	}
}

// refuseConn answers a connection over a cap with answer and closes it.
func (l *capListener) refuseConn(nc net.Conn, answer []byte) {
	if l.tls {
		// A TLS client cannot read a plain-text answer, and a handshake
		// to send one would cost the most when the server is already
		// full: close.
		nc.Close()
		return
	}
	select {
	case l.refusers <- struct{}{}:
		go l.refuse(nc, answer)
	default:
		nc.Close()
	}
}

// remoteHost is a connection's remote address without its port.
func remoteHost(nc net.Conn) string {
	a := nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(a); err == nil {
		return host
	}
	return a
}

// takeAddr counts one more connection of addr, unless it holds perAddr.
func (l *capListener) takeAddr(addr string) bool {
	if l.perAddr <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[addr] >= l.perAddr {
		return false
	}
	l.byAddr[addr]++
	return true
}

func (l *capListener) releaseAddr(addr string) {
	if l.perAddr <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// victim takes the connection to close for a new one off its list, or nil:
// the longest-idle one (of addr only, unless addr is ""), else one that
// has sent nothing for freshGrace.
func (l *capListener) victim(now time.Time, addr string) *countedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := func(ls *list.List, ok func(*countedConn) bool) *countedConn {
		for e := ls.Front(); e != nil; e = e.Next() {
			c := e.Value.(*countedConn)
			if addr != "" && c.addr != addr {
				continue
			}
			if ok(c) {
				return c
			}
			if addr == "" {
				return nil // the oldest does not qualify: none after it does
			}
		}
		return nil
	}
	c := first(&l.idle, func(*countedConn) bool { return true })
	if c == nil {
		c = first(&l.fresh, func(c *countedConn) bool { return now.Sub(c.since) >= freshGrace })
	}
	if c != nil {
		l.unlistLocked(c)
	}
	return c
}

// ConnState tracks which connections are idle (http.Server.ConnState).
func (l *capListener) ConnState(nc net.Conn, st http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn() // over TLS, the server reports the TLS connection
	}
	c, ok := nc.(*countedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unlistLocked(c)
	switch st {
	case http.StateNew:
		c.since, c.list = time.Now(), &l.fresh
	case http.StateIdle:
		c.since, c.list = time.Now(), &l.idle
	default:
		return
	}
	c.elem = c.list.PushBack(c)
}

func (l *capListener) unlistLocked(c *countedConn) {
	if c.list != nil {
		c.list.Remove(c.elem)
		c.list, c.elem = nil, nil
	}
}

func (l *capListener) refuse(nc net.Conn, answer []byte) {
	defer func() { <-l.refusers }()
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(refuseTime))
	if _, err := nc.Write(answer); err != nil {
		return
	}
	// Read what the client sent until it closes or time is up: closing a
	// socket with unread data resets it, which may destroy the answer
	// before the client has read it.
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
}

// countedConn gives its slot back once, however often it is closed.
type countedConn struct {
	net.Conn
	l    *capListener
	addr string // the remote address, without its port
	once sync.Once

	// Guarded by l.mu: the list of evictable connections c is on, if any.
	list  *list.List
	elem  *list.Element
	since time.Time
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		c.l.releaseAddr(c.addr)
	})
	return err
}

// CloseWrite keeps net/http's graceful close (half-close, then wait) working
// through the wrapper.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
