package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
)

// BenchmarkForwardProduce is the gateway's work on one Produce request
// once its frame is read: decode it, check every batch (check), and
// forward it to a backend broker over a loopback TCP connection read by
// another goroutine (tcp) or to a connection that drops the bytes
// (discard). The forwarding is the old way, decode→rewrite→encode
// (reencode: kafkaproto.RewriteProduce and kmsg's encoder), or the new one
// (splice: kafkaproto.Splicer.Produce and one writev). MB/s is of the
// client's request bytes; per MB: 1e6 / (MB/s) µs of wall time, and
// cpu-µs/MB the CPU time.
//
// The A/B method: go test -run '^$' -bench ForwardProduce -benchmem -count 6 ./internal/gateway
// runs both ways one after the other in each round.
func BenchmarkForwardProduce(b *testing.B) {
	for _, shape := range []struct {
		name              string
		partitions, batch int // batches of about batch bytes, one per partition
	}{
		{"1x1MiB", 1, 1 << 20},
		{"4x256KiB", 4, 256 << 10},
		{"8x16KiB", 8, 16 << 10},
	} {
		frame := benchFrame(b, shape.partitions, shape.batch)
		for _, sink := range []string{"tcp", "discard"} {
			for _, check := range []bool{false, true} {
				for _, way := range []string{"reencode", "splice"} {
					name := fmt.Sprintf("%s/%s/check=%v/%s", shape.name, sink, check, way)
					b.Run(name, func(b *testing.B) { benchForward(b, frame, sink, check, way) })
				}
			}
		}
	}
}

func benchForward(b *testing.B, frame []byte, sink string, check bool, way string) {
	ctx := context.Background()
	nc := benchSink(b, sink)
	u := &upstream{nc: nc, clientID: "sluice-inbound-p1", fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("sluice-inbound-p1"))}
	valid := defaultValidator()
	var sp kafkaproto.Splicer
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		req := kmsg.NewPtrProduceRequest()
		req.Version = 9
		r := kbin.Reader{Src: frame}
		r.Span(8)                  // key, version, correlation id
		r.Span(int(r.Int16()) + 1) // client id, empty header tags
		if err := req.ReadFrom(r.Src); err != nil {
			b.Fatal(err)
		}
		routes := newRoutes(req)
		for i, t := range req.Topics {
			routes[i].Topic = "sluice.in.p1." + t.Topic
			for j, p := range t.Partitions {
				if check {
					if _, err := inspectBatches(p.Records); err != nil {
						b.Fatal(err)
					}
					if err := valid.validateBatches(p.Records); err != nil {
						b.Fatal(err)
					}
				}
				routes[i].Keep[j] = true
			}
		}
		var err error
		if way == "splice" {
			_, err = u.sendProduce(ctx, &sp, frame, routes)
		} else {
			var fwd *kmsg.ProduceRequest
			if fwd, err = kafkaproto.RewriteProduce(req, routes); err == nil {
				_, err = u.send(ctx, fwd)
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// CPU time, unlike ns/op, does not count waiting for a core another
	// process holds (the machine is shared); it includes the goroutine
	// reading the loopback connection, the same for both ways.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/(float64(b.N)*float64(len(frame))/1e6), "cpu-µs/MB")
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchFrame is a client's Produce v9 frame (no size prefix): one topic,
// uncompressed batches of 1 KiB JSON-like values.
func benchFrame(b *testing.B, partitions, batch int) []byte {
	value := []byte(`{"user":{"id":"u-1234","country":"paris"},"amount":512,"text":"` + strings.Repeat("checkout pricing ", 56) + `"}`)
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 30000
	t := kmsg.ProduceRequestTopic{Topic: "pageviews"}
	for p := range partitions {
		values := make([][]byte, max(1, batch/len(value)))
		for i := range values {
			values[i] = value
		}
		t.Partitions = append(t.Partitions, kmsg.ProduceRequestTopicPartition{Partition: int32(p), Records: validBatch(b, codecNone, values...)})
	}
	req.Topics = append(req.Topics, t)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench")).AppendRequest(nil, req, 1)
	return frame[4:]
}

// benchSink is where forwarded requests go: a loopback TCP connection
// whose other end is read and dropped, or a connection dropping writes.
func benchSink(b *testing.B, sink string) net.Conn {
	if sink == "discard" {
		c1, c2 := net.Pipe()
		c2.Close()
		return discardConn{c1}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close(); <-done })
	return nc
}

// discardConn drops what is written to it.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
