package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/sluice-io/sluice/internal/kafkaproto"
)

// maxResponseBytes bounds what an upstream response may claim to be, so a
// corrupt size cannot make the gateway allocate without limit.
const maxResponseBytes = 256 << 20

// dialer opens authenticated connections to backend brokers.
type dialer struct {
	tls  *tls.Config
	sasl sasl.Mechanism
	// bodies holds the backend's responses, shared by every upstream.
	bodies *kafkaproto.BufferPool
}

// upstream is one connection to one backend broker, owned by one client
// connection: requests are forwarded at the client's exact version and
// never share a connection with another client (no head-of-line blocking,
// no mixing of tenants).
type upstream struct {
	// Requests are written by the client connection's reader and answers
	// read by its writer (pipelining); each side has its own lock, and
	// answers come back in the order requests went out.
	wmu      sync.Mutex
	rmu      sync.Mutex
	nc       net.Conn
	r        *bufio.Reader
	clientID string
	fmt      *kmsg.RequestFormatter
	corr     int32
	buf      []byte
	// body holds the last response read, which its decoded answer (record
	// batches) refers to; it goes back to bodies when the next response is
	// read (see receive).
	bodies *kafkaproto.BufferPool
	body   *kafkaproto.Buffer
	// fetches splices Fetch answers out of body; what it returns refers
	// to body and to itself, so it lives as long.
	fetches kafkaproto.Splicer
}

func (d dialer) dial(ctx context.Context, addr, clientID string) (*upstream, error) {
	var nd net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dialing backend broker: %w", err)
	}
	if d.tls != nil {
		cfg := d.tls.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake with backend broker: %w", err)
		}
		nc = tc
	}
	u := &upstream{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), clientID: clientID,
		fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)), bodies: d.bodies}
	if d.sasl != nil {
		if err := u.authenticate(ctx, d.sasl, addr); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return u, nil
}

func (u *upstream) authenticate(ctx context.Context, mech sasl.Mechanism, addr string) error {
	host, _, _ := net.SplitHostPort(addr)
	do := func(req kmsg.Request) (kmsg.Response, error) { return u.do(ctx, req) }
	if err := kafkaproto.ClientAuthenticate(ctx, do, mech, host); err != nil {
		return fmt.Errorf("authenticating with backend broker: %w", err)
	}
	return nil
}

// do sends req at its current version and waits for the response.
func (u *upstream) do(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	corr, err := u.send(ctx, req)
	if err != nil {
		return nil, err
	}
	return u.receive(ctx, req, corr)
}

// send writes req and returns its correlation id; its answer must be read
// with receive before any later request's.
func (u *upstream) send(ctx context.Context, req kmsg.Request) (int32, error) {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	u.corr++
	corr := u.corr
	u.buf = u.fmt.AppendRequest(u.buf[:0], req, corr)
	u.setWriteDeadline(ctx)
	if _, err := u.nc.Write(u.buf); err != nil {
		return 0, fmt.Errorf("writing to backend broker: %w", err)
	}
	return corr, nil
}

// sendProduce forwards a client's Produce request frame spliced (see
// kafkaproto.Splicer.Produce): topics renamed and filtered by routes, the
// header this upstream's, the record batches as the client sent them,
// written in one writev where the connection is plain TCP. It returns the
// request's correlation id, like send.
func (u *upstream) sendProduce(ctx context.Context, sp *kafkaproto.Splicer, frame []byte, routes []kafkaproto.ProduceRoute) (int32, error) {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	u.corr++
	corr := u.corr
	segs, err := sp.Produce(frame, corr, u.clientID, routes)
	if err != nil {
		return 0, err
	}
	u.setWriteDeadline(ctx)
	if _, err := segs.WriteTo(u.nc); err != nil {
		return 0, fmt.Errorf("writing to backend broker: %w", err)
	}
	return corr, nil
}

func (u *upstream) setWriteDeadline(ctx context.Context) {
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	_ = u.nc.SetWriteDeadline(deadline)
}

func (u *upstream) receive(ctx context.Context, req kmsg.Request, corr int32) (kmsg.Response, error) {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	body, err := u.readBody(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := kafkaproto.DecodeResponse(body, req, corr)
	if err != nil {
		return nil, fmt.Errorf("backend broker: %w", err)
	}
	return resp, nil
}

// receiveFetch reads the answer to a Fetch request sent as req and returns
// it spliced for the client (kafkaproto.Splicer.Fetch), answering the
// client's correlation id clientCorr. The segments refer to the
// upstream's buffers: valid until its next response is read.
func (u *upstream) receiveFetch(ctx context.Context, req *kmsg.FetchRequest, corr, clientCorr int32, rw *kafkaproto.FetchRewrite) (net.Buffers, kafkaproto.FetchCounts, error) {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	body, err := u.readBody(ctx, req)
	if err != nil {
		return nil, kafkaproto.FetchCounts{}, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, kafkaproto.FetchCounts{}, fmt.Errorf("backend broker: correlation id %d, want %d", got, corr)
	}
	segs, counts, err := u.fetches.Fetch(body, clientCorr, req.Version, rw)
	if err != nil {
		return nil, counts, fmt.Errorf("backend broker: %w", err)
	}
	return segs, counts, nil
}

// readBody reads the next response frame (what follows its size prefix)
// into the upstream's buffer; u.rmu is held.
func (u *upstream) readBody(ctx context.Context, req kmsg.Request) ([]byte, error) {
	deadline := time.Now().Add(responseTimeout(req))
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = u.nc.SetReadDeadline(deadline)
	var size [4]byte
	if _, err := io.ReadFull(u.r, size[:]); err != nil {
		return nil, fmt.Errorf("reading from backend broker: %w", err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > maxResponseBytes {
		return nil, fmt.Errorf("backend broker sent a response of %d bytes", n)
	}
	// The previous response's answer has been written to the client by
	// now: after authentication an upstream's responses are read only by
	// the Pendings of its client connection, which the connection's
	// writer calls one at a time, each after the previous answer is
	// encoded and written (kafkaproto.Handler). Its buffer is reused.
	u.bodies.Put(u.body)
	u.body = u.bodies.Get(int(n))
	body := u.body.B
	if _, err := io.ReadFull(u.r, body); err != nil {
		return nil, fmt.Errorf("reading from backend broker: %w", err)
	}
	return body, nil
}

// responseTimeout allows for requests the broker may hold: fetch long polls,
// produce waiting for acks, joins waiting for a rebalance.
func responseTimeout(req kmsg.Request) time.Duration {
	const overhead = 15 * time.Second
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		return overhead + time.Duration(r.TimeoutMillis)*time.Millisecond
	case *kmsg.FetchRequest:
		return overhead + time.Duration(r.MaxWaitMillis)*time.Millisecond
	case *kmsg.JoinGroupRequest:
		return overhead + time.Duration(max(r.RebalanceTimeoutMillis, r.SessionTimeoutMillis))*time.Millisecond
	case *kmsg.SyncGroupRequest:
		return overhead + 5*time.Minute
	}
	return overhead + 15*time.Second
}

func (u *upstream) close() { u.nc.Close() }
