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
	capped := newCapListener(ln, lim.MaxHTTPConnections, reg, logger)
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
// connection is busy, the new one is answered 503 and closed. Errors of the
// listener (EMFILE among them) are returned as they are, for http.Server's
// backoff. Its ConnState must be the server's hook.
type capListener struct {
	net.Listener
	// tls: the server speaks TLS on the accepted connections, so a
	// connection over the cap cannot be answered in plain HTTP.
	tls      bool
	max      int64
	open     atomic.Int64
	refusers chan struct{}
	refused  prometheus.Counter
	evicted  prometheus.Counter
	log      *ratelog.Limiter

	mu    sync.Mutex
	idle  list.List // *countedConn between requests, longest idle first
	fresh list.List // *countedConn that have not started a request, oldest first
}

func newCapListener(ln net.Listener, max int, reg prometheus.Registerer, logger *slog.Logger) *capListener {
	l := &capListener{
		Listener: ln,
		max:      int64(max),
		refusers: make(chan struct{}, refusersMax),
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
		reg.MustRegister(l.refused, l.evicted, open)
	}
	return l
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &countedConn{Conn: nc, l: l}, nil
		}
		l.open.Add(-1)
		if v := l.victim(time.Now()); v != nil {
			l.evicted.Inc() // before the close: whoever sees it end sees it counted
			v.Close()       // gives its slot back at once
			l.open.Add(1)
			return &countedConn{Conn: nc, l: l}, nil
		}
		l.refused.Inc()
		l.log.Log("remote", nc.RemoteAddr().String(), "limit", l.max)
		if l.tls {
			// A TLS client cannot read a plain-text answer, and a
			// handshake to send one would cost the most when the
			// server is already full: close.
			nc.Close()
			continue
		}
		select {
		case l.refusers <- struct{}{}:
			go l.refuse(nc)
		default:
			nc.Close()
		}
	}
}

// victim takes the connection to close for a new one off its list, or nil.
func (l *capListener) victim(now time.Time) *countedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c *countedConn
	if e := l.idle.Front(); e != nil {
		c = e.Value.(*countedConn)
	} else if e := l.fresh.Front(); e != nil && now.Sub(e.Value.(*countedConn).since) >= freshGrace {
		c = e.Value.(*countedConn)
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

func (l *capListener) refuse(nc net.Conn) {
	defer func() { <-l.refusers }()
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(refuseTime))
	if _, err := nc.Write(overCapResponse); err != nil {
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
	once sync.Once

	// Guarded by l.mu: the list of evictable connections c is on, if any.
	list  *list.List
	elem  *list.Element
	since time.Time
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
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
