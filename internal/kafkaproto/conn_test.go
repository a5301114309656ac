package kafkaproto

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Pipelined requests are answered one at a time, in order, with their
// correlation ids; Produce with acks=0 gets no response.
func TestOrderingAndAcksZero(t *testing.T) {
	ts := startServer(t)
	rc := ts.dialAuth(t)
	type sent struct {
		req  kmsg.Request
		corr int32
	}
	reqs := []kmsg.Request{
		metadataReq(12, "a"),
		produceReq(12, 0, "fire-and-forget"),
		produceReq(3, 0, "old-version"),
		metadataReq(1, "b"),
		produceReq(9, 1, "acked"),
		produceReq(12, -1, "all"),
	}
	var all []byte
	var expect []sent
	for _, r := range reqs {
		corr, b := rc.frame(r)
		all = append(all, b...)
		if p, ok := r.(*kmsg.ProduceRequest); !ok || p.Acks != 0 {
			expect = append(expect, sent{r, corr})
		}
	}
	rc.write(all) // one write: the server sees them pipelined
	for _, e := range expect {
		rc.read(e.req, e.corr) // fails on a correlation id out of order
	}
	rc.expectSilence(100 * time.Millisecond)
	if keys, _ := ts.handler.seen(); len(keys) != len(reqs) {
		t.Fatalf("handler saw %v", keys)
	}
	ts.obs.mu.Lock()
	defer ts.obs.mu.Unlock()
	if ts.obs.in < len(all) || ts.obs.out == 0 {
		t.Errorf("Observer bytes in %d (sent at least %d), out %d", ts.obs.in, len(all), ts.obs.out)
	}
}

func TestRevocation(t *testing.T) {
	t.Run("next request", func(t *testing.T) {
		ts := startServer(t) // the sweep runs hourly here
		rc := ts.dialAuth(t)
		rc.roundTrip(metadataReq(12))
		ts.auth.revokeAll()
		rc.send(metadataReq(12))
		rc.expectClosed()
		waitFor(t, "refusal", func() bool { return ts.obs.refusals(RefusalRevoked) == 1 })
		if keys, _ := ts.handler.seen(); len(keys) != 1 {
			t.Errorf("handler saw %v after revocation", keys)
		}
	})
	t.Run("idle sweep", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.SweepInterval = 20 * time.Millisecond })
		rc := ts.dialAuth(t)
		other := ts.dial(t) // not authenticated: no principal, left alone
		ts.auth.revokeAll()
		rc.expectClosed()
		waitFor(t, "refusal", func() bool { return ts.obs.refusals(RefusalRevoked) == 1 })
		other.roundTrip(&kmsg.ApiVersionsRequest{})
	})
	t.Run("busy connection answers first", func(t *testing.T) {
		ts := startServer(t, func(c *Config) { c.SweepInterval = 10 * time.Millisecond })
		rc := ts.dialAuth(t)
		req := metadataReq(12, "block")
		corr := rc.send(req)
		<-ts.handler.entered
		ts.auth.revokeAll()
		time.Sleep(50 * time.Millisecond) // several sweeps while busy
		close(ts.handler.release)
		rc.read(req, corr)
		rc.expectClosed()
	})
}

// Clients that never finish are dropped on deadlines, so they cannot pin
// goroutines.
func TestDeadlines(t *testing.T) {
	short := func(c *Config) {
		c.AuthTimeout = 300 * time.Millisecond
		c.IdleTimeout = 300 * time.Millisecond
		c.FrameTimeout = 300 * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		run    func(t *testing.T, ts *testServer) net.Conn
		reason Refusal // "" = closed without refusal
	}{
		{"silent TCP client (TLS handshake)", func(t *testing.T, ts *testServer) net.Conn {
			return dialTCP(t, ts.addr)
		}, RefusalTLSHandshake},
		{"TLS but no SASL", func(t *testing.T, ts *testServer) net.Conn {
			return ts.dial(t).conn
		}, RefusalTimeout},
		{"SASL handshake but no token", func(t *testing.T, ts *testServer) net.Conn {
			rc := ts.dial(t)
			rc.roundTrip(&kmsg.SASLHandshakeRequest{Version: 1, Mechanism: "PLAIN"})
			return rc.conn
		}, RefusalTimeout},
		{"slow loris after auth", func(t *testing.T, ts *testServer) net.Conn {
			rc := ts.dialAuth(t)
			rc.write([]byte{0, 0})
			return rc.conn
		}, RefusalTimeout},
		{"half a body after auth", func(t *testing.T, ts *testServer) net.Conn {
			rc := ts.dialAuth(t)
			_, b := rc.frame(metadataReq(12, "t"))
			rc.write(b[:len(b)-2])
			return rc.conn
		}, RefusalTimeout},
		{"idle after auth", func(t *testing.T, ts *testServer) net.Conn {
			return ts.dialAuth(t).conn
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, short)
			conn := tc.run(t, ts)
			start := time.Now()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := conn.Read(make([]byte, 1))
			if err == nil || isTimeout(err) || time.Since(start) > 3*time.Second {
				t.Fatalf("not closed by the server: %v after %v", err, time.Since(start))
			}
			waitFor(t, "connection gone", func() bool { return len(ts.srv.snapshotConns()) == 0 })
			if tc.reason != "" && ts.obs.refusals(tc.reason) != 1 {
				t.Errorf("refusal %q not counted", tc.reason)
			}
		})
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A plaintext Kafka client fails the TLS handshake and is closed at once; it
// neither hangs nor disturbs the server.
func TestPlaintextClient(t *testing.T) {
	ts := startServer(t)
	c := dialTCP(t, ts.addr)
	frame := kmsg.NewRequestFormatter().AppendRequest(nil, &kmsg.ApiVersionsRequest{}, 1)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	for {
		// Whatever comes back (perhaps a TLS alert) is no Kafka
		// response, and the connection ends.
		if _, err := c.Read(buf); err != nil {
			if isTimeout(err) {
				t.Fatal("plaintext connection left open")
			}
			break
		}
	}
	waitFor(t, "refusal", func() bool { return ts.obs.refusals(RefusalTLSHandshake) == 1 })
	ts.dialAuth(t).roundTrip(metadataReq(12))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Garbage never crashes the server: before TLS, before auth and after auth.
func TestGarbage(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AuthFailureDelay = -1 })
	rng := rand.New(rand.NewPCG(1, 2))
	junk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for range 10 {
		c := dialTCP(t, ts.addr)
		_, _ = c.Write(junk(1 + rng.IntN(300)))
		_ = c.Close()
	}
	allowedKeys := []int16{0, 3, 17, 18, 22, 36, 1, 1000}
	for i := range 60 {
		var rc *rawClient
		if i%2 == 0 {
			rc = ts.dialAuth(t)
		} else {
			rc = ts.dial(t)
		}
		for range 5 {
			key := allowedKeys[rng.IntN(len(allowedKeys))]
			body := junk(rng.IntN(200))
			if rng.IntN(3) == 0 {
				// A valid request, truncated or with a flipped byte.
				_, b := rc.frame(produceReq(int16(rng.IntN(13)), 1, "t"))
				body = bytes.Clone(b[4+10+len("raw-test"):])
				if len(body) > 0 {
					body[rng.IntN(len(body))] ^= byte(1 + rng.IntN(255))
				}
				key = 0
			}
			frame := rawFrame(key, int16(rng.IntN(20)-2), 1, body)
			if _, err := rc.conn.Write(frame); err != nil {
				break
			}
		}
		_ = rc.conn.Close()
	}
	ts.dialAuth(t).roundTrip(metadataReq(12))
	keys, _ := ts.handler.seen()
	ts.obs.mu.Lock()
	t.Logf("refusals: %v; handler calls: %d", ts.obs.refused, len(keys))
	ts.obs.mu.Unlock()
}

func TestShutdown(t *testing.T) {
	ts := startServer(t)
	busy := ts.dialAuth(t)
	idle := ts.dialAuth(t)
	req := metadataReq(12, "block")
	corr := busy.send(req)
	<-ts.handler.entered

	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(context.Background()) }()
	idle.expectClosed() // idle connections go at once
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(ts.handler.release)
	busy.read(req, corr) // the in-flight request is answered
	busy.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	ts.served <- ErrServerClosed // for the cleanup
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting after Shutdown")
	}
	if err := ts.srv.Serve(context.Background(), mustListen(t)); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	ts := startServer(t)
	rc := ts.dialAuth(t)
	rc.send(metadataReq(12, "block"))
	<-ts.handler.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	rc.expectClosed() // forced
}

func TestServeContextCancel(t *testing.T) {
	ts := startServer(t)
	rc := ts.dialAuth(t)
	ts.cancel()
	if err := <-ts.served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve returned %v", err)
	}
	ts.served <- context.Canceled
	rc.expectClosed()
}

func mustListen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestNewValidation(t *testing.T) {
	stls, _ := testTLS(t)
	ok := Config{TLS: stls, Auth: &testAuth{}, Handler: newTestHandler()}
	for name, mut := range map[string]func(*Config){
		"no TLS":         func(c *Config) { c.TLS = nil },
		"no certificate": func(c *Config) { c.TLS = &tls.Config{} },
		"no auth":        func(c *Config) { c.Auth = nil },
		"no handler":     func(c *Config) { c.Handler = nil },
		"negative max":   func(c *Config) { c.MaxRequestBytes = -1 },
		"bad APIs":       func(c *Config) { c.APIs = map[int16]VersionRange{3: {2, 1}} },
	} {
		cfg := ok
		mut(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}

// A TCP probe (connect, close) is not counted as a refusal.
func TestTCPProbe(t *testing.T) {
	ts := startServer(t)
	dialTCP(t, ts.addr).Close()
	waitFor(t, "connection gone", func() bool {
		ts.obs.mu.Lock()
		defer ts.obs.mu.Unlock()
		return ts.obs.closed == 1
	})
	if n := ts.obs.refusals(RefusalTLSHandshake); n != 0 {
		t.Errorf("%d refusals counted", n)
	}
}

// What a frame makes the server hold follows what the client sent, not
// the size it claims; frames larger than the first read still arrive
// whole, the first time and once the connection has sent a large frame.
func TestClaimedFramesCostWhatArrives(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxRequestBytes = 100 << 20 })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns = 20
	var claimed []*rawClient
	for range conns {
		rc := ts.dialAuth(t)
		rc.write(append(binary.BigEndian.AppendUint32(nil, 100<<20), make([]byte, 10)...))
		claimed = append(claimed, rc)
	}
	time.Sleep(300 * time.Millisecond) // the server reads the prefixes and starts the bodies
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > conns*2<<20+32<<20 {
		t.Errorf("%d connections claiming 100 MiB frames made %d MiB allocated", conns, grew>>20)
	}

	rc := ts.dialAuth(t)
	for round := range 2 {
		big := bytes.Repeat([]byte{7}, 5<<20+3)
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, -1, 1000
		topic := kmsg.NewProduceRequestTopic()
		topic.Topic = "t"
		for p, records := range [][]byte{big, []byte("small")} {
			part := kmsg.NewProduceRequestTopicPartition()
			part.Partition, part.Records = int32(p), records
			topic.Partitions = append(topic.Partitions, part)
		}
		req.Topics = append(req.Topics, topic)
		resp := rc.roundTrip(req).(*kmsg.ProduceResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 || resp.Topics[0].Partitions[1].Partition != 1 {
			t.Fatalf("round %d: a 5 MiB produce answered %+v", round, resp.Topics)
		}
	}
}
