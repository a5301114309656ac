package kafkaproto

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/ratelog"
)

// Principal is an authenticated client. The server asks Valid before every
// request and from a periodic sweep, so that revoking a key takes effect on
// live connections: Valid must be cheap (an atomic load, not a lookup).
type Principal interface {
	User() string // the SASL username (project id)
	Valid() bool  // false once the key is revoked or deleted
}

// Authenticator checks PLAIN credentials. On failure the error's text is sent
// to the client as SaslAuthenticate's ErrorMessage, so it must not say which
// of user or password was wrong. ctx carries the connection
// (ConnFromContext) and the authentication deadline.
type Authenticator interface {
	Authenticate(ctx context.Context, user, pass string) (Principal, error)
}

// Pending yields the answer to a request later.
type Pending func() (kmsg.Response, error)

// Handler answers authenticated requests other than ApiVersions and SASL.
// Begin starts one request and returns how to get its answer, so the
// connection reads the next request while, say, a backend broker works on
// this one. Begin calls for one connection are serial and in request order
// (ctx is the connection's context); their Pendings are called serially,
// in the same order, from another goroutine, and their answers written in
// that order, each before the next Pending is called (so an answer may
// refer to a buffer that the next Pending reuses). The server's own answers (ApiVersions, Unlisted) take their
// place in the same order. A nil answer means "send nothing" and is only
// valid for Produce with acks=0 (for which anything returned is dropped:
// such a client reads no response). An error from either closes the
// connection.
//
// frame is the request as the client sent it (header and body, without
// the size prefix), for a Handler that forwards it rather than re-encoding
// req. It and req's byte fields (kmsg keeps record batches as slices of
// it) are valid until the Pending returns: the buffer is then reused.
//
// An answer may be a *Spliced: a frame the Handler built itself, the
// request's correlation id included, written as it is.
type Handler interface {
	Begin(ctx context.Context, c *Conn, req kmsg.Request, frame []byte) (Pending, error)
}

// Config configures a Server. Zero durations take the defaults noted.
type Config struct {
	TLS     *tls.Config // required: the listeners are SASL_SSL only
	Auth    Authenticator
	Handler Handler
	// APIs is what ApiVersions advertises and what is accepted after
	// authentication. ApiVersions, SaslHandshake and SaslAuthenticate are
	// the server's own and are ignored here.
	APIs map[int16]VersionRange

	// Unlisted, if set, may answer an authenticated request for a key
	// kmsg knows but APIs does not list (for example with an
	// authorization error, as a broker whose ACLs deny would); a nil
	// answer closes the connection, as does an unset Unlisted.
	Unlisted func(c *Conn, req kmsg.Request) kmsg.Response

	MaxRequestBytes int32        // frame cap after authentication; default 100 MiB (Kafka's socket.request.max.bytes)
	Logger          *slog.Logger // default slog.Default()
	Observer        Observer     // default NopObserver

	// AuthFailureDelay pads every failed authentication to this duration
	// from the moment the token arrived, so that an unknown project and a
	// wrong key cannot be told apart by timing. Default 100 ms (Kafka's
	// connection.failed.authentication.delay.ms); negative disables.
	AuthFailureDelay time.Duration
	// AuthFailureMaxDelay caps the delay of a failed authentication, which
	// doubles with every recent failure from the same remote address
	// (failureDelay), so that one guesser is slowed and nobody else is.
	// Default 2 s; at most AuthFailureDelay disables the doubling.
	AuthFailureMaxDelay time.Duration

	// MaxConns caps the open connections of this Server, over all its
	// listeners, authenticated or not; 0 is no cap. A connection over it
	// is closed at once, before the TLS handshake.
	MaxConns int
	// MaxPendingPerAddress caps the connections from one remote address
	// that have not authenticated yet; 0 is no cap. A connection over it
	// is closed at once, before TLS, so that one source cannot hold the
	// whole of MaxConns with connections that never authenticate.
	MaxPendingPerAddress int
	// MaxConnsPerUser caps one user's authenticated connections; 0 is no
	// cap. Authentication over it fails with SASL_AUTHENTICATION_FAILED
	// and a message saying so; the user's other connections stay.
	MaxConnsPerUser int
	// AuthTimeout bounds the TLS handshake plus SASL exchange. Default 10 s.
	AuthTimeout time.Duration
	// IdleTimeout closes a connection that starts no frame for this long.
	// Default 10 min (Kafka's connections.max.idle.ms).
	IdleTimeout time.Duration
	// FrameTimeout bounds the rest of a frame once its first byte arrived,
	// so that a slow-loris peer cannot hold a goroutine. Default 60 s.
	FrameTimeout time.Duration
	// WriteTimeout bounds writing one response. Default 60 s.
	WriteTimeout time.Duration
	// SweepInterval is how often idle connections of revoked principals
	// are closed. Default 1 s.
	SweepInterval time.Duration
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("kafkaproto: server closed")

// Server serves the Kafka protocol on any number of listeners.
type Server struct {
	cfg    Config
	apis   atomic.Pointer[apiTable]
	log    *slog.Logger
	obs    Observer
	bufs   bufPool    // response encoding buffers, shared by the connections
	frames BufferPool // request frames, shared by the connections

	authLog  *ratelog.Limiter // failed authentications
	limitLog *ratelog.Limiter // connections refused over MaxConns
	// authentications refused over MaxConnsPerUser
	userLimitLog *ratelog.Limiter
	preAuthLog   *ratelog.Limiter // other refusals before authentication
	failures     failureLog       // recent failed authentications per remote address (own lock)

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*Conn]struct{}
	users     map[string]int // authenticated connections per user, with MaxConnsPerUser
	pending   map[string]int // unauthenticated connections per remote host, with MaxPendingPerAddress
	shutdown  bool
	serving   int           // running Serve calls; the sweep runs while > 0
	stopSweep chan struct{} // closed to stop the running sweep
	connWG    sync.WaitGroup

	panics atomic.Int64 // recovered panics; tests assert it stays 0
}

// New checks cfg and returns a Server that serves nothing until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.TLS == nil {
		return nil, errors.New("kafkaproto: Config.TLS is required (listeners are SASL_SSL only)")
	}
	if len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil && cfg.TLS.GetConfigForClient == nil {
		return nil, errors.New("kafkaproto: Config.TLS has no server certificate")
	}
	if cfg.Auth == nil || cfg.Handler == nil {
		return nil, errors.New("kafkaproto: Config.Auth and Config.Handler are required")
	}
	if cfg.MaxRequestBytes < 0 {
		return nil, fmt.Errorf("kafkaproto: negative MaxRequestBytes %d", cfg.MaxRequestBytes)
	}
	setDefault(&cfg.MaxRequestBytes, 100<<20)
	if cfg.MaxConns < 0 || cfg.MaxConnsPerUser < 0 || cfg.MaxPendingPerAddress < 0 {
		return nil, fmt.Errorf("kafkaproto: negative connection cap (MaxConns %d, MaxConnsPerUser %d, MaxPendingPerAddress %d)",
			cfg.MaxConns, cfg.MaxConnsPerUser, cfg.MaxPendingPerAddress)
	}
	setDefault(&cfg.AuthFailureDelay, 100*time.Millisecond)
	setDefault(&cfg.AuthFailureMaxDelay, 2*time.Second)
	setDefault(&cfg.AuthTimeout, 10*time.Second)
	setDefault(&cfg.IdleTimeout, 10*time.Minute)
	setDefault(&cfg.FrameTimeout, 60*time.Second)
	setDefault(&cfg.WriteTimeout, 60*time.Second)
	setDefault(&cfg.SweepInterval, time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		obs:       cfg.Observer,
		listeners: make(map[*net.Listener]struct{}),
		conns:     make(map[*Conn]struct{}),
		users:     make(map[string]int),
		pending:   make(map[string]int),
		failures:  failureLog{m: make(map[string]*failures)},
		authLog: ratelog.New(cfg.Logger, slog.LevelInfo, "kafkaproto: authentication failed; closing connection",
			logInterval, logBurst),
		limitLog: ratelog.New(cfg.Logger, slog.LevelWarn, "kafkaproto: connection limit reached; closing new connection before TLS",
			logInterval, logBurst),
		userLimitLog: ratelog.New(cfg.Logger, slog.LevelInfo, "kafkaproto: user has too many connections; refusing authentication",
			logInterval, logBurst),
		preAuthLog: ratelog.New(cfg.Logger, slog.LevelInfo, "kafkaproto: closing unauthenticated connection",
			logInterval, logBurst),
	}
	if err := s.SetAPIs(cfg.APIs); err != nil {
		return nil, err
	}
	return s, nil
}

// Lines a client can cause at will are written in full at most logBurst
// times per logInterval, then summarized (package ratelog).
const (
	logInterval = 10 * time.Second
	logBurst    = 5
)

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// SetAPIs replaces the advertised and accepted API ranges, for example when
// the backend's versions change during a rolling upgrade. Connections see
// the new table from their next request.
func (s *Server) SetAPIs(apis map[int16]VersionRange) error {
	t, err := newAPITable(apis)
	if err != nil {
		return err
	}
	s.apis.Store(t)
	return nil
}

// Serve accepts connections on ln until ctx is cancelled (ln and every
// connection it accepted are then closed at once, and ctx.Err() is returned)
// or Shutdown is called (ErrServerClosed). ln is closed when Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.startServing(&ln); err != nil {
		ln.Close()
		return err
	}
	defer s.stopServing(&ln)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			switch {
			case s.isShutdown():
				return ErrServerClosed
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, net.ErrClosed):
				return fmt.Errorf("kafkaproto: accepting on %s: %w", ln.Addr(), err)
			}
			// Anything else (EMFILE, ECONNABORTED, ...) is treated as
			// transient, with net/http's backoff.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("kafkaproto: accept failed, retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		s.startConn(ctx, nc)
	}
}

func (s *Server) startServing(ln *net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.serving++
	if s.serving == 1 {
		s.stopSweep = make(chan struct{})
		go s.sweepLoop(s.stopSweep)
	}
	return nil
}

func (s *Server) stopServing(ln *net.Listener) {
	(*ln).Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, ln)
	s.serving--
	if s.serving == 0 {
		close(s.stopSweep)
	}
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

func (s *Server) startConn(ctx context.Context, nc net.Conn) {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		nc.Close()
		return
	}
	host := hostOf(nc.RemoteAddr())
	var over Refusal
	switch {
	case s.cfg.MaxConns > 0 && len(s.conns) >= s.cfg.MaxConns:
		over = RefusalConnectionLimit
	case s.cfg.MaxPendingPerAddress > 0 && s.pending[host] >= s.cfg.MaxPendingPerAddress:
		over = RefusalPendingLimit
	}
	if over != "" {
		s.mu.Unlock()
		// Counted before the close, so that whoever sees the connection
		// end sees the refusal counted. Closed before a byte is read:
		// cheaper than any answer, and a client sees a connection that
		// ended, which it retries.
		s.obs.Refused(over)
		nc.Close()
		s.limitLog.Log("remote", nc.RemoteAddr().String(), "reason", string(over))
		return
	}
	c := newConn(ctx, s, nc)
	if s.cfg.MaxPendingPerAddress > 0 {
		s.pending[host]++
		c.pendingHost = host
	}
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	go c.serve()
}

func (s *Server) connDone(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.countedUser != "" {
		if s.users[c.countedUser]--; s.users[c.countedUser] <= 0 {
			delete(s.users, c.countedUser)
		}
	}
	s.releasePendingLocked(c)
	s.mu.Unlock()
	s.connWG.Done()
}

// releasePendingLocked stops counting c as unauthenticated.
func (s *Server) releasePendingLocked(c *Conn) {
	if c.pendingHost == "" {
		return
	}
	if s.pending[c.pendingHost]--; s.pending[c.pendingHost] <= 0 {
		delete(s.pending, c.pendingHost)
	}
	c.pendingHost = ""
}

func (s *Server) snapshotConns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Shutdown stops accepting, closes idle connections, lets connections with a
// request in flight answer it and then closes them. If ctx ends first, the
// remaining connections are closed at once and ctx.Err() is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		(*ln).Close()
	}
	s.mu.Unlock()
	s.authLog.Stop()
	s.limitLog.Stop()
	s.userLimitLog.Stop()
	s.preAuthLog.Stop()

	for _, c := range s.snapshotConns() {
		c.closeWhenIdle()
	}
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range s.snapshotConns() {
			c.Close()
		}
		return fmt.Errorf("kafkaproto: shutdown: %w", ctx.Err())
	}
}

// Sweep closes every idle connection whose principal is no longer valid.
// It runs every SweepInterval; call it directly to make a revocation take
// effect at once. Busy connections are caught before their next request.
func (s *Server) Sweep() {
	for _, c := range s.snapshotConns() {
		p := c.Principal()
		if p == nil || p.Valid() {
			continue
		}
		if c.closeIfIdle() {
			c.refuse(RefusalRevoked, "principal no longer valid")
		}
	}
}

func (s *Server) sweepLoop(stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.Sweep()
			s.failures.forget(now)
		}
	}
}
