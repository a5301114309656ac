package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/ratelog"
)

// newHTTPServer is the API's server with every timeout set: headers within
// 10 s, the whole request within HTTPReadTimeout, the answer within
// HTTPWriteTimeout of the headers (net/http counts the handler's work in
// it, so it must outlast the longest query), keep-alive connections closed
// after HTTPIdleTimeout without a request. net/http lifts the read deadline
// once a body has been read, so a handler outliving HTTPReadTimeout is not
// cancelled by it (TestHTTPTimeouts).
func newHTTPServer(h http.Handler, lim limits.Connections, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       lim.HTTPReadTimeout,
		WriteTimeout:      lim.HTTPWriteTimeout,
		IdleTimeout:       lim.HTTPIdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
}

// overCapResponse is what a connection over the cap reads: a Keen-style
// 503 a client can show and retry, rather than a reset it cannot tell from
// a network fault.
var overCapResponse = func() []byte {
	body := `{"message":"Too many open connections to this server; retry later","error_code":"TooManyConnectionsError"}`
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"+
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

// capListener caps the open connections accepted through it. Accept never
// returns a connection over the cap: it answers it 503 and closes it, and
// waits for the next. Errors of the listener (EMFILE among them) are
// returned as they are, for http.Server's backoff.
type capListener struct {
	net.Listener
	max      int64
	open     atomic.Int64
	refusers chan struct{}
	refused  prometheus.Counter
	log      *ratelog.Limiter
}

func newCapListener(ln net.Listener, max int, reg prometheus.Registerer, logger *slog.Logger) *capListener {
	l := &capListener{
		Listener: ln,
		max:      int64(max),
		refusers: make(chan struct{}, refusersMax),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_http_connections_refused_total",
			Help: "HTTP connections answered 503 and closed because the server held its maximum of open connections.",
		}),
		log: ratelog.New(logger, slog.LevelWarn, "HTTP connection limit reached; refusing new connection", 10*time.Second, 5),
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_http_connections", Help: "Open connections of the HTTP API.",
	}, func() float64 { return float64(l.open.Load()) })
	if reg != nil {
		reg.MustRegister(l.refused, open)
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
		l.refused.Inc()
		l.log.Log("remote", nc.RemoteAddr().String(), "limit", l.max)
		select {
		case l.refusers <- struct{}{}:
			go l.refuse(nc)
		default:
			nc.Close()
		}
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
