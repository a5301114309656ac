package kafkaproto

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// nopConn swallows writes and has nothing to read.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (nopConn) Write(b []byte) (int, error)      { return len(b), nil }
func (nopConn) Close() error                     { return nil }
func (nopConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092} }
func (nopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

// echoHandler answers every request with its empty response kind.
type echoHandler struct{}

func (echoHandler) Handle(_ context.Context, _ *Conn, req kmsg.Request) (kmsg.Response, error) {
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		return nil, nil
	}
	return req.ResponseKind(), nil
}

// FuzzHandle feeds arbitrary frames to a connection in each SASL stage,
// without the recover of serve: any panic fails. `go test` runs the seeds;
// `go test -fuzz FuzzHandle` explores.
func FuzzHandle(f *testing.F) {
	stls, _ := testTLS(f)
	srv, err := New(Config{
		TLS: stls, Auth: &testAuth{}, Handler: echoHandler{}, APIs: testAPIs,
		Logger: slog.New(slog.DiscardHandler), AuthFailureDelay: -1,
	})
	if err != nil {
		f.Fatal(err)
	}
	reqFrame := func(r kmsg.Request) []byte {
		b := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz")).AppendRequest(nil, r, 1)
		return b[4:] // handle gets frames without their size prefix
	}
	apiV3 := kmsg.NewPtrApiVersionsRequest()
	apiV3.Version, apiV3.ClientSoftwareName, apiV3.ClientSoftwareVersion = 3, "a", "1"
	seeds := [][]byte{
		reqFrame(apiV3),
		reqFrame(&kmsg.ApiVersionsRequest{Version: 0}),
		reqFrame(&kmsg.SASLHandshakeRequest{Version: 0, Mechanism: "PLAIN"}),
		reqFrame(&kmsg.SASLHandshakeRequest{Version: 1, Mechanism: "OAUTHBEARER"}),
		reqFrame(&kmsg.SASLAuthenticateRequest{Version: 2, SASLAuthBytes: []byte("\x00p1\x00k1")}),
		[]byte("\x00p1\x00k1"),
		reqFrame(metadataReq(12, "t")),
		reqFrame(produceReq(9, 1, "t")),
		reqFrame(produceReq(12, 0, "t")),
		rawFrame(1000, 0, 1, nil)[4:],
		rawFrame(18, 77, 1, nil)[4:],
		{0, 3},
		{},
	}
	for stage := range byte(4) {
		for _, s := range seeds {
			f.Add(stage, s)
		}
	}
	f.Fuzz(func(t *testing.T, stage byte, frame []byte) {
		c := newConn(context.Background(), srv, nopConn{})
		defer c.cancel()
		c.rw = nopConn{}
		c.stage = saslStage(stage % 4)
		if c.stage == stageAuthenticated {
			c.setPrincipal(&testPrincipal{user: "p1"})
		}
		c.handle(frame)
	})
}

// The size prefix is checked before anything is allocated.
func TestFrameSize(t *testing.T) {
	for _, tc := range []struct {
		n     uint32
		limit int32
		ok    bool
	}{{0, 10, true}, {10, 10, true}, {11, 10, false}, {0x80000000, 10, false}, {0xffffffff, 1 << 30, false}} {
		var p [4]byte
		binary.BigEndian.PutUint32(p[:], tc.n)
		if _, err := frameSize(p, tc.limit); (err == nil) != tc.ok {
			t.Errorf("frameSize(%d, %d): %v", tc.n, tc.limit, err)
		}
	}
}
