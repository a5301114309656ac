package kafkaproto

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Conn is one client connection. Its getters are safe from any goroutine.
type Conn struct {
	srv    *Server
	nc     net.Conn // the TCP connection: closing it unblocks any read or write
	rw     net.Conn // frames go through this: the TLS connection once the handshake is done
	ctx    context.Context
	cancel context.CancelFunc

	// Owned by the serving goroutine.
	stage        saslStage
	authDeadline time.Time // TLS handshake and SASL must be done by then
	largestFrame int       // the largest frame the client has sent (readBody)

	// Guarded by Server.mu: the user c is counted for in Server.users, and
	// the host it is counted for in Server.pending until it authenticates.
	countedUser string
	pendingHost string

	mu        sync.Mutex
	log       *slog.Logger
	principal Principal
	clientID  string
	swName    string
	swVersion string
	value     any
	inflight  int  // requests read and not yet answered
	draining  bool // close as soon as no request is in flight
	closing   bool

	// Pipelining: the Handler's answers are written by a writer
	// goroutine, in request order, while the next request is read.
	queue      chan queued // nil until the first request for the Handler
	writerDone chan struct{}
	deferred   bool // the request being handled is answered by the writer
	// frame is the request frame being handled; nil once an answer in
	// the writer's queue owns it (the writer returns it to the pool once
	// that answer is written: the answer may refer to the request's bytes).
	frame *Buffer
}

// queued is an answer the writer owes the client.
type queued struct {
	corr    int32
	req     kmsg.Request
	pending Pending
	frame   *Buffer // the request frame, pooled once the answer is written (nil: none to pool)
}

// maxPipelined bounds the answers a connection may owe at once; Kafka
// clients keep at most 5 requests in flight.
const maxPipelined = 16

type connKey struct{}

// ConnFromContext returns the connection a Handler or Authenticator context
// belongs to.
func ConnFromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(connKey{}).(*Conn)
	return c, ok
}

func newConn(parent context.Context, s *Server, nc net.Conn) *Conn {
	c := &Conn{
		srv:          s,
		nc:           nc,
		authDeadline: time.Now().Add(s.cfg.AuthTimeout),
		log:          s.log.With("remote", nc.RemoteAddr().String()),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithValue(parent, connKey{}, c))
	// Cancelling the context is the one way to close a connection, from
	// any goroutine; closing the socket makes blocked I/O return at once.
	context.AfterFunc(c.ctx, func() { nc.Close() })
	return c
}

// Principal is nil until SASL authentication succeeds.
func (c *Conn) Principal() Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.principal
}

// ClientID is the client id of the latest request header ("" when null).
func (c *Conn) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// ClientSoftware is what the client named itself in ApiVersions v3+ (KIP-511);
// empty for older clients.
func (c *Conn) ClientSoftware() (name, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.swName, c.swVersion
}

func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is the listener address the client connected to, which tells a
// gateway with one listener per backend node which node is meant.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Context is cancelled when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Value and SetValue hold one value for the Handler's per-connection state
// (upstream connections, say); context.AfterFunc(c.Context(), ...) is the
// place to release it.
func (c *Conn) Value() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

func (c *Conn) SetValue(v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.value = v
}

// Close closes the connection at once, even with a request in flight.
func (c *Conn) Close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cancel()
}

func (c *Conn) logger() *slog.Logger {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log
}

func (c *Conn) setClientID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clientID = id
}

func (c *Conn) setSoftware(name, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.swName, c.swVersion = name, version
}

func (c *Conn) setPrincipal(p Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.principal = p
	c.log = c.log.With("user", clip(p.User()))
}

// begin marks a request in flight; false means the connection was asked to
// close while the frame was being read, and the request is dropped unanswered.
func (c *Conn) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.draining {
		return false
	}
	c.inflight++
	return true
}

// end marks a request answered; false means close now (closing, or draining
// with nothing left in flight).
func (c *Conn) end() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	return !c.closing && !(c.draining && c.inflight == 0)
}

// closeIfIdle closes the connection unless a request is in flight.
func (c *Conn) closeIfIdle() bool {
	c.mu.Lock()
	if c.inflight > 0 || c.closing {
		c.mu.Unlock()
		return false
	}
	c.closing = true
	c.mu.Unlock()
	c.cancel()
	return true
}

// closeWhenIdle closes the connection now if idle, else after the request in
// flight is answered (graceful shutdown).
func (c *Conn) closeWhenIdle() {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	c.closeIfIdle()
}

// refuse logs and counts why the connection is being closed because of the
// client. The caller then returns false up to serve, which closes.
// Before authentication anybody can cause a refusal at will, so those lines
// are rate-limited (package ratelog); the Observer counts each.
func (c *Conn) refuse(r Refusal, msg string, args ...any) {
	c.srv.obs.Refused(r)
	args = append([]any{"reason", string(r), "client_id", clip(c.ClientID())}, args...)
	if c.Principal() == nil {
		c.srv.preAuthLog.Log(append([]any{"remote", c.RemoteAddr().String(), "why", msg}, args...)...)
		return
	}
	c.logger().Info("kafkaproto: closing connection: "+msg, args...)
}

// serve runs the connection until it closes, whatever happens inside.
func (c *Conn) serve() {
	defer c.srv.connDone(c)
	defer c.srv.obs.ConnClosed()
	defer c.cancel()
	defer func() {
		if r := recover(); r != nil {
			c.srv.panics.Add(1)
			c.logger().Error("kafkaproto: panic while serving connection; closing it", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	c.srv.obs.ConnOpened()

	tc, err := c.handshake()
	if err != nil {
		return
	}
	c.rw = tc
	for c.next() {
	}
	if c.queue != nil {
		// Answers already owed are still written (or dropped if the
		// connection is gone) before the connection counts as closed.
		close(c.queue)
		<-c.writerDone
	}
	c.logger().Debug("kafkaproto: connection closed")
}

func (c *Conn) handshake() (*tls.Conn, error) {
	tc := tls.Server(c.nc, c.srv.cfg.TLS)
	if err := tc.SetDeadline(c.authDeadline); err != nil {
		return nil, err
	}
	if err := tc.HandshakeContext(c.ctx); err != nil {
		switch {
		case c.ctx.Err() != nil:
		case errors.Is(err, io.EOF):
			// Connected and left without a byte: a port probe or a TCP
			// health check, not worth a refusal.
			c.logger().Debug("kafkaproto: connection closed before the TLS handshake")
		default:
			c.refuse(RefusalTLSHandshake, "TLS handshake failed", "err", err)
		}
		return nil, err
	}
	return tc, nil
}

// next reads, handles and answers one request; false means close. A
// request for the Handler is answered later by the writer, which ends it.
func (c *Conn) next() bool {
	fb, ok := c.readFrame()
	if !ok {
		return false
	}
	if !c.begin() {
		c.srv.frames.Put(fb)
		return false
	}
	c.frame = fb
	keep := c.handle(fb)
	c.srv.frames.Put(c.frame) // unless an answer took it
	c.frame = nil
	if c.deferred {
		c.deferred = false
		return keep
	}
	return c.end() && keep
}

// readFrame reads one size-prefixed frame into a pooled buffer. Before
// authentication everything runs against the fixed authentication deadline
// and frames are capped at maxPreAuthBytes. After it, a connection may wait
// IdleTimeout for the first byte, and the rest of the frame must follow
// within FrameTimeout.
func (c *Conn) readFrame() (*Buffer, bool) {
	authed := c.stage == stageAuthenticated
	limit := min(c.srv.cfg.MaxRequestBytes, maxPreAuthBytes)
	deadline := c.authDeadline
	if authed {
		limit = c.srv.cfg.MaxRequestBytes
		deadline = time.Now().Add(c.srv.cfg.IdleTimeout)
	}
	var prefix [4]byte
	_ = c.rw.SetReadDeadline(deadline)
	if _, err := io.ReadFull(c.rw, prefix[:1]); err != nil {
		c.readFailed(err, !authed)
		return nil, false
	}
	if authed {
		_ = c.rw.SetReadDeadline(time.Now().Add(c.srv.cfg.FrameTimeout))
	}
	if _, err := io.ReadFull(c.rw, prefix[1:]); err != nil {
		c.readFailed(err, true)
		return nil, false
	}
	size, err := frameSize(prefix, limit)
	if err != nil {
		c.refuse(RefusalFrameTooLarge, "frame too large", "err", err)
		return nil, false
	}
	fb, err := c.readBody(int(size))
	if err != nil {
		c.readFailed(err, true)
		return nil, false
	}
	c.srv.obs.BytesIn(4 + int(size))
	return fb, true
}

// firstFrameRead is the most a frame's buffer starts with beyond the
// largest frame the client has sent before.
const firstFrameRead = 1 << 20

// readBody reads a frame body of size bytes into a pooled buffer that
// grows as the bytes arrive: it starts at the larger of firstFrameRead and
// the client's largest frame so far, and doubles. What a client makes the
// server hold follows what it has sent, not what it claims: a tenant's
// connections each claiming MaxRequestBytes and trickling bytes would
// otherwise hold that much each for FrameTimeout. A producer that keeps
// sending large frames reads each straight into a buffer of its size.
func (c *Conn) readBody(size int) (*Buffer, error) {
	fb := c.srv.frames.Get(min(size, max(firstFrameRead, c.largestFrame)))
	if _, err := io.ReadFull(c.rw, fb.B); err != nil {
		c.srv.frames.Put(fb)
		return nil, err
	}
	for len(fb.B) < size {
		next := c.srv.frames.Get(min(size, 2*len(fb.B)))
		n := copy(next.B, fb.B)
		c.srv.frames.Put(fb)
		fb = next
		if _, err := io.ReadFull(c.rw, fb.B[n:]); err != nil {
			c.srv.frames.Put(fb)
			return nil, err
		}
	}
	c.largestFrame = max(c.largestFrame, size)
	return fb, nil
}

// readFailed sorts out why a read ended. A timeout is the client's fault
// when authentication is pending or a frame was started; an idle timeout, a
// client closing between requests, or our own close are not refusals.
func (c *Conn) readFailed(err error, timeoutIsRefusal bool) {
	switch {
	case c.ctx.Err() != nil:
		// Closed by us (sweep, shutdown, Close); already logged there.
	case errors.Is(err, os.ErrDeadlineExceeded) && timeoutIsRefusal:
		c.refuse(RefusalTimeout, "request or authentication not completed in time")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.logger().Debug("kafkaproto: closing idle connection")
	default:
		c.logger().Debug("kafkaproto: read ended", "err", err)
	}
}

// handle dispatches one frame; false means close the connection.
func (c *Conn) handle(fb *Buffer) bool {
	frame := fb.B
	if c.stage == stageRawToken {
		return c.handleRawToken(frame)
	}
	h, r, err := parseHeader(frame)
	if err != nil {
		c.refuse(RefusalMalformed, "malformed request", "err", err)
		return false
	}
	c.setClientID(h.clientID)
	if c.stage == stageAuthenticated && !c.Principal().Valid() {
		c.refuse(RefusalRevoked, "principal no longer valid")
		return false
	}
	if h.key == int16(kmsg.ApiVersions) {
		return c.handleApiVersions(h, r)
	}
	req := kmsg.RequestForKey(h.key)
	if req == nil {
		c.refuse(RefusalUnknownKey, "unknown API key", "key", h.key)
		return false
	}
	admitted, unlisted := c.admit(h, req)
	if !admitted {
		return false
	}
	req.SetVersion(h.version)
	if err := decodeBody(req, r); err != nil {
		c.refuse(RefusalMalformed, "malformed request", "err", err)
		return false
	}
	if unlisted {
		return c.handleUnlisted(h, req)
	}
	switch req := req.(type) {
	case *kmsg.SASLHandshakeRequest:
		return c.handleHandshake(h, req)
	case *kmsg.SASLAuthenticateRequest:
		return c.handleAuthenticate(h, req)
	}
	return c.handleRequest(h, req, fb)
}

// admit checks a request's key and version against the SASL stage and the
// API table, before its body is parsed: kmsg would happily parse versions
// the listener never advertised. unlisted reports an authenticated request
// for a key outside the table that Config.Unlisted may answer.
func (c *Conn) admit(h header, req kmsg.Request) (admitted, unlisted bool) {
	api := kmsg.NameForKey(h.key)
	isSASL := h.key == int16(kmsg.SASLHandshake) || h.key == int16(kmsg.SASLAuthenticate)
	switch {
	case c.stage == stageBegin && h.key != int16(kmsg.SASLHandshake),
		c.stage == stageHandshaken && h.key != int16(kmsg.SASLAuthenticate),
		c.stage == stageAuthenticated && isSASL: // no re-authentication, see package doc
		c.refuse(RefusalSASLState, "request not allowed at this SASL stage", "api", api, "stage", c.stage.String())
		return false, false
	}
	t := c.srv.apis.Load()
	if _, ok := t.ranges[h.key]; !ok {
		if c.srv.cfg.Unlisted != nil && c.stage == stageAuthenticated && h.version >= 0 && h.version <= req.MaxVersion() {
			return true, true
		}
		c.refuse(RefusalNotAllowed, "API not allowed on this listener", "api", api, "version", h.version)
		return false, false
	}
	if !t.allows(h.key, h.version) {
		c.refuse(RefusalVersion, "API version not supported", "api", api, "version", h.version)
		return false, false
	}
	return true, false
}

// handleUnlisted lets Config.Unlisted answer a request for an API the
// listener does not advertise (with an authorization error, say); without
// an answer the connection closes.
func (c *Conn) handleUnlisted(h header, req kmsg.Request) bool {
	resp := c.srv.cfg.Unlisted(c, req)
	if resp == nil || resp.Key() != req.Key() || resp.GetVersion() != req.GetVersion() {
		c.refuse(RefusalNotAllowed, "API not allowed on this listener", "api", kmsg.NameForKey(h.key), "version", h.version)
		return false
	}
	return c.write(h.corr, resp)
}

func (c *Conn) handleApiVersions(h header, r kbin.Reader) bool {
	if !ownAPIs[int16(kmsg.ApiVersions)].contains(h.version) {
		// The body of an unknown version cannot be parsed; the answer
		// does not depend on it.
		return c.write(h.corr, unsupportedApiVersions())
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(h.version)
	if err := decodeBody(req, r); err != nil {
		c.refuse(RefusalMalformed, "malformed request", "err", err)
		return false
	}
	resp := apiVersionsResponse(req, c.srv.apis.Load())
	if req.Version >= 3 && resp.ErrorCode == 0 {
		c.setSoftware(req.ClientSoftwareName, req.ClientSoftwareVersion)
	}
	return c.write(h.corr, resp)
}

func (c *Conn) handleRequest(h header, req kmsg.Request, fb *Buffer) bool {
	pending, err := c.srv.cfg.Handler.Begin(c.ctx, c, req, fb.B)
	if err != nil {
		if c.ctx.Err() == nil {
			c.logger().Warn("kafkaproto: handler failed; closing connection", "api", kmsg.NameForKey(req.Key()), "version", req.GetVersion(), "err", err)
		}
		return false
	}
	c.enqueue(queued{corr: h.corr, req: req, pending: pending, frame: c.takeFrame()})
	return true
}

// answer writes the handler's answer to req, checked; false means close.
func (c *Conn) answer(corr int32, req kmsg.Request, resp kmsg.Response) bool {
	api := kmsg.NameForKey(req.Key())
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		// The client reads no response for acks=0; writing one would
		// be taken as the answer to its next request.
		return true
	}
	switch {
	case resp == nil:
		c.logger().Error("kafkaproto: handler returned no response for a request that needs one; closing connection", "api", api)
		return false
	case resp.Key() != req.Key() || resp.GetVersion() != req.GetVersion():
		c.logger().Error("kafkaproto: handler returned a mismatched response; closing connection",
			"api", api, "version", req.GetVersion(), "resp_api", kmsg.NameForKey(resp.Key()), "resp_version", resp.GetVersion())
		return false
	}
	if sp, ok := resp.(*Spliced); ok {
		return c.writeSegments(sp.Segs)
	}
	frame, release := c.srv.bufs.encodeResponse(corr, resp)
	defer release()
	return c.writeRaw(frame)
}

// write sends a response the server made itself. Once the Handler has
// been given a request it joins the writer's queue, so answers keep
// request order.
func (c *Conn) write(corr int32, resp kmsg.Response) bool {
	if c.queue != nil {
		c.enqueue(queued{corr: corr, req: resp.RequestKind(), pending: func() (kmsg.Response, error) { return resp, nil }, frame: c.takeFrame()})
		return true
	}
	return c.writeRaw(appendResponse(nil, corr, resp))
}

// takeFrame hands the frame being handled to an answer in the writer's
// queue (the first such answer, should there be more).
func (c *Conn) takeFrame() *Buffer {
	fb := c.frame
	c.frame = nil
	return fb
}

// enqueue hands an owed answer to the writer, starting it on first use; it
// blocks while maxPipelined answers are owed.
func (c *Conn) enqueue(q queued) {
	if c.queue == nil {
		c.queue = make(chan queued, maxPipelined)
		c.writerDone = make(chan struct{})
		go c.writeLoop()
	}
	c.deferred = true
	c.queue <- q
}

// writeLoop writes owed answers in order. A failure closes the connection;
// what is still queued is then dropped.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	failed := false
	defer func() {
		if r := recover(); r != nil {
			c.srv.panics.Add(1)
			c.logger().Error("kafkaproto: panic while answering; closing connection", "panic", r, "stack", string(debug.Stack()))
			c.cancel()
			for range c.queue {
				c.end()
			}
		}
	}()
	for q := range c.queue {
		if failed {
			c.end()
			continue
		}
		resp, err := q.pending()
		ok := err == nil && c.answer(q.corr, q.req, resp)
		// Only now is nothing left that may refer to the frame: the
		// Handler's Pending has returned and its answer is written.
		// (Frames of dropped answers are left to the garbage collector.)
		c.srv.frames.Put(q.frame)
		if err != nil && c.ctx.Err() == nil {
			c.logger().Warn("kafkaproto: handler failed; closing connection", "api", kmsg.NameForKey(q.req.Key()), "version", q.req.GetVersion(), "err", err)
		}
		if !c.end() || !ok {
			failed = true
			c.cancel()
		}
	}
}

// writeRaw writes bytes that form whole frames. Once it returns true the
// bytes are with the kernel, so closing right after does not lose them.
func (c *Conn) writeRaw(b []byte) bool {
	deadline := c.authDeadline
	if c.stage == stageAuthenticated {
		deadline = time.Now().Add(c.srv.cfg.WriteTimeout)
	}
	_ = c.rw.SetWriteDeadline(deadline)
	if _, err := c.rw.Write(b); err != nil {
		if c.ctx.Err() == nil {
			c.logger().Debug("kafkaproto: writing response failed", "err", err)
		}
		return false
	}
	c.srv.obs.BytesOut(len(b))
	return true
}

// writeSegments is writeRaw for a frame in segments (Spliced).
func (c *Conn) writeSegments(segs net.Buffers) bool {
	_ = c.rw.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	n, err := segs.WriteTo(c.rw)
	if err != nil {
		if c.ctx.Err() == nil {
			c.logger().Debug("kafkaproto: writing response failed", "err", err)
		}
		return false
	}
	c.srv.obs.BytesOut(int(n))
	return true
}

// clip bounds client-supplied strings before they reach a log line.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
