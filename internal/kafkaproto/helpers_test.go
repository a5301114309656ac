package kafkaproto

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ---- TLS material, generated once per test binary ----

var (
	tlsOnce              sync.Once
	serverTLS, clientTLS *tls.Config
	tlsErr               error
)

func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	tlsOnce.Do(func() { serverTLS, clientTLS, tlsErr = makeTLS() })
	if tlsErr != nil {
		t.Fatal(tlsErr)
	}
	return serverTLS, clientTLS.Clone()
}

// makeTLS creates a throwaway CA and a server certificate for 127.0.0.1 and
// localhost.
func makeTLS() (*tls.Config, *tls.Config, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafkaproto test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}
	client := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: "localhost"}
	return server, client, nil
}

// ---- fake Authenticator: users p1 and p2, passwords k1 and k2; revocable principals ----

type testPrincipal struct {
	user    string
	revoked atomic.Bool
}

func (p *testPrincipal) User() string { return p.user }
func (p *testPrincipal) Valid() bool  { return !p.revoked.Load() }

const badCredentials = "Authentication failed: Invalid username or password"

type testAuth struct {
	mu     sync.Mutex
	issued []*testPrincipal
}

func (a *testAuth) Authenticate(_ context.Context, user, pass string) (Principal, error) {
	if !(user == "p1" && pass == "k1" || user == "p2" && pass == "k2") {
		return nil, errors.New(badCredentials)
	}
	p := &testPrincipal{user: user}
	a.mu.Lock()
	a.issued = append(a.issued, p)
	a.mu.Unlock()
	return p, nil
}

func (a *testAuth) revokeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.issued {
		p.revoked.Store(true)
	}
}

// ---- test Handler ----

// testHandler answers Metadata with this listener as broker 1 leading one
// partition of every requested topic, Produce with success (nothing for
// acks=0) and InitProducerID with a fixed id. Metadata for a topic named
// after a misbehaviour (panic, error, nil, wrongversion, block) triggers it.
type testHandler struct {
	mu    sync.Mutex
	keys  []int16
	conns []*Conn

	entered chan struct{} // "block": signalled on entry
	release chan struct{} // "block": answered once closed
}

func newTestHandler() *testHandler {
	return &testHandler{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *testHandler) seen() ([]int16, []*Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int16(nil), h.keys...), append([]*Conn(nil), h.conns...)
}

// Begin answers at once (handle), blocking the connection's reader while
// it runs.
func (h *testHandler) Begin(ctx context.Context, c *Conn, req kmsg.Request, _ []byte) (Pending, error) {
	resp, err := h.handle(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return func() (kmsg.Response, error) { return resp, nil }, nil
}

func (h *testHandler) handle(ctx context.Context, c *Conn, req kmsg.Request) (kmsg.Response, error) {
	if got, ok := ConnFromContext(ctx); !ok || got != c || c.Principal() == nil {
		return nil, errors.New("test handler: context does not carry the authenticated Conn")
	}
	h.mu.Lock()
	h.keys = append(h.keys, req.Key())
	h.conns = append(h.conns, c)
	h.mu.Unlock()

	switch r := req.(type) {
	case *kmsg.MetadataRequest:
		if len(r.Topics) == 1 && r.Topics[0].Topic != nil {
			switch *r.Topics[0].Topic {
			case "panic":
				panic("test handler panic")
			case "error":
				return nil, errors.New("test handler error")
			case "nil":
				return nil, nil
			case "wrongversion":
				resp := r.ResponseKind()
				resp.SetVersion(r.Version - 1)
				return resp, nil
			case "block":
				h.entered <- struct{}{}
				select {
				case <-h.release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		return metadataResponse(c, r), nil
	case *kmsg.ProduceRequest:
		if r.Acks == 0 {
			return nil, nil
		}
		return produceResponse(r), nil
	case *kmsg.InitProducerIDRequest:
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID = 7
		return resp, nil
	}
	return nil, fmt.Errorf("test handler: unexpected %s", kmsg.NameForKey(req.Key()))
}

func metadataResponse(c *Conn, r *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	host, port, _ := net.SplitHostPort(c.LocalAddr().String())
	p, _ := strconv.Atoi(port)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 1, host, int32(p)
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	resp.ControllerID = 1
	for _, rt := range r.Topics {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = rt.Topic
		pt := kmsg.NewMetadataResponseTopicPartition()
		pt.Leader, pt.Replicas, pt.ISR = 1, []int32{1}, []int32{1}
		t.Partitions = []kmsg.MetadataResponseTopicPartition{pt}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func produceResponse(r *kmsg.ProduceRequest) *kmsg.ProduceResponse {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range r.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// ---- Observer that counts ----

type testObserver struct {
	mu          sync.Mutex
	refused     map[Refusal]int
	userRefused map[string]int
	authFail    int
	opened      int
	closed      int
	in, out     int
}

func (o *testObserver) lock() func()  { o.mu.Lock(); return o.mu.Unlock }
func (o *testObserver) ConnOpened()   { defer o.lock()(); o.opened++ }
func (o *testObserver) ConnClosed()   { defer o.lock()(); o.closed++ }
func (o *testObserver) AuthFailed()   { defer o.lock()(); o.authFail++ }
func (o *testObserver) BytesIn(n int) { defer o.lock()(); o.in += n }
func (o *testObserver) BytesOut(n int) {
	defer o.lock()()
	o.out += n
}
func (o *testObserver) Refused(r Refusal) {
	defer o.lock()()
	if o.refused == nil {
		o.refused = make(map[Refusal]int)
	}
	o.refused[r]++
}

func (o *testObserver) UserRefused(user string, r Refusal) {
	defer o.lock()()
	if o.userRefused == nil {
		o.userRefused = make(map[string]int)
	}
	o.userRefused[user+"/"+string(r)]++
}

func (o *testObserver) userRefusals(user string, r Refusal) int {
	defer o.lock()()
	return o.userRefused[user+"/"+string(r)]
}

func (o *testObserver) refusals(r Refusal) int {
	defer o.lock()()
	return o.refused[r]
}

func (o *testObserver) authFailures() int {
	defer o.lock()()
	return o.authFail
}

// ---- server under test ----

type testServer struct {
	srv     *Server
	addr    string
	auth    *testAuth
	handler *testHandler
	obs     *testObserver
	client  *tls.Config
	cancel  context.CancelFunc
	served  chan error
	logs    *syncBuffer

	allowPanics int64
}

// testAPIs is what the test listener allows besides the server's own keys.
var testAPIs = map[int16]VersionRange{
	int16(kmsg.Produce):        {0, 12},
	int16(kmsg.Metadata):       {0, 12},
	int16(kmsg.InitProducerID): {0, 5},
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServer(t *testing.T, opts ...func(*Config)) *testServer {
	t.Helper()
	stls, ctls := testTLS(t)
	ts := &testServer{auth: &testAuth{}, handler: newTestHandler(), obs: &testObserver{}, client: ctls, served: make(chan error, 1)}
	logs := &syncBuffer{}
	ts.logs = logs
	cfg := Config{
		TLS:              stls,
		Auth:             ts.auth,
		Handler:          ts.handler,
		APIs:             testAPIs,
		MaxRequestBytes:  1 << 20,
		Logger:           slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observer:         ts.obs,
		AuthFailureDelay: 50 * time.Millisecond,
		SweepInterval:    time.Hour, // tests that want the sweep set it
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv, ts.addr = srv, ln.Addr().String()
	var ctx context.Context
	ctx, ts.cancel = context.WithCancel(context.Background())
	go func() { ts.served <- srv.Serve(ctx, ln) }()

	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-ts.served:
			if !errors.Is(err, ErrServerClosed) && !errors.Is(err, context.Canceled) {
				t.Errorf("Serve returned %v", err)
			}
		case <-sctx.Done():
			t.Errorf("Serve did not return")
		}
		ts.cancel()
		if n := len(srv.snapshotConns()); n != 0 {
			t.Errorf("%d connections left after Shutdown", n)
		}
		ts.obs.mu.Lock()
		if ts.obs.opened != ts.obs.closed {
			t.Errorf("Observer: %d connections opened, %d closed", ts.obs.opened, ts.obs.closed)
		}
		ts.obs.mu.Unlock()
		if n := srv.panics.Load(); n != ts.allowPanics {
			t.Errorf("%d panics recovered, want %d", n, ts.allowPanics)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts
}

// ---- raw protocol client ----

type rawClient struct {
	t    *testing.T
	conn net.Conn
	corr int32
	fmt  *kmsg.RequestFormatter
}

func (ts *testServer) dial(t *testing.T) *rawClient {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.addr, ts.client)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test"))}
}

// dialAuth returns a client authenticated as p1 with SaslHandshake v1.
func (ts *testServer) dialAuth(t *testing.T) *rawClient {
	t.Helper()
	rc := ts.dial(t)
	rc.saslV1("\x00p1\x00k1", 2)
	return rc
}

func (rc *rawClient) frame(req kmsg.Request) (int32, []byte) {
	rc.corr++
	return rc.corr, rc.fmt.AppendRequest(nil, req, rc.corr)
}

func (rc *rawClient) send(req kmsg.Request) int32 {
	corr, b := rc.frame(req)
	rc.write(b)
	return corr
}

func (rc *rawClient) write(b []byte) {
	rc.t.Helper()
	_ = rc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.conn.Write(b); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

func (rc *rawClient) readFrame() ([]byte, error) {
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(rc.conn, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(rc.conn, b)
	return b, err
}

// read reads the response to req sent with corr.
func (rc *rawClient) read(req kmsg.Request, corr int32) kmsg.Response {
	rc.t.Helper()
	b, err := rc.readFrame()
	if err != nil {
		rc.t.Fatalf("reading response to %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	resp, err := DecodeResponse(b, req, corr)
	if err != nil {
		rc.t.Fatal(err)
	}
	return resp
}

func (rc *rawClient) roundTrip(req kmsg.Request) kmsg.Response {
	rc.t.Helper()
	return rc.read(req, rc.send(req))
}

func (rc *rawClient) saslV1(token string, authVersion int16) *kmsg.SASLAuthenticateResponse {
	rc.t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	if r := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
		rc.t.Fatalf("handshake error %d", r.ErrorCode)
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version, au.SASLAuthBytes = authVersion, []byte(token)
	return rc.roundTrip(au).(*kmsg.SASLAuthenticateResponse)
}

// expectClosed asserts that the server closes the connection without
// sending anything (more).
func (rc *rawClient) expectClosed() {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := rc.conn.Read(make([]byte, 1))
	switch {
	case n > 0:
		rc.t.Fatalf("expected the connection to be closed, got data")
	case errors.Is(err, os.ErrDeadlineExceeded):
		rc.t.Fatalf("expected the connection to be closed, it stayed open")
	}
}

// expectSilence asserts that nothing arrives for d.
func (rc *rawClient) expectSilence(d time.Duration) {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(d))
	n, err := rc.conn.Read(make([]byte, 1))
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		rc.t.Fatalf("expected silence, got %d bytes, err %v", n, err)
	}
}

func metadataReq(version int16, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func produceReq(version, acks int16, topic string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, acks, 1000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	t.Partitions = []kmsg.ProduceRequestTopicPartition{p}
	req.Topics = []kmsg.ProduceRequestTopic{t}
	return req
}

// rawFrame builds a request frame by hand, for keys kmsg cannot encode.
func rawFrame(key, version int16, corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
