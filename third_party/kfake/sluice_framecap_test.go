package kfake

// SLUICE: tests of the frame caps of clientConn.read (SLUICE.md, change 5).

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func TestSluiceReadFrame(t *testing.T) {
	for _, n := range []int{0, 10, readFrameChunk, readFrameChunk + 1, 5*readFrameChunk + 3} {
		src := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		got, err := readFrame(bytes.NewReader(src), n)
		if err != nil || !bytes.Equal(got, src) {
			t.Errorf("%d bytes: got %d bytes, %v", n, len(got), err)
		}
		if n > 0 {
			if _, err := readFrame(bytes.NewReader(src[:n-1]), n); err == nil {
				t.Errorf("%d bytes, one short: no error", n)
			}
		}
	}
}

// A frame that claims more than the caps allow closes the connection before
// anything is allocated for it; an authenticated client's requests of
// several MiB still go through, with PLAIN and with SCRAM (sluice's).
func TestSluiceHugeClaimsCostNothing(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256"} {
		t.Run(mech, func(t *testing.T) { hugeClaimsCostNothing(t, mech) })
	}
}

func hugeClaimsCostNothing(t *testing.T, mech string) {
	c := newCluster(t, NumBrokers(1), SeedTopics(4, "big"), EnableSASL(), Superuser(mech, "admin", "adminpass"))
	addr := c.ListenAddrs()[0]
	closed := func(what string, write []byte) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(write); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := conn.Read(make([]byte, 16)); err == nil || strings.Contains(err.Error(), "timeout") {
			t.Fatalf("%s: the connection is still open (read %d bytes, %v)", what, n, err)
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("%s: %d MiB allocated", what, grew>>20)
		}
	}
	claim := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	closed("4 GiB claimed", claim(0xffffffff))
	closed("an HTTP request (\"GET \" claims 1.1 GiB)", []byte("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"))
	closed("600 KiB claimed before authenticating", append(claim(600<<10), make([]byte, 100)...))

	var m sasl.Mechanism = plain.Auth{User: "admin", Pass: "adminpass"}.AsMechanism()
	if mech != "PLAIN" {
		m = scram.Auth{User: "admin", Pass: "adminpass"}.AsSha256Mechanism()
	}
	cl := newPlainClient(t, c, kgo.ProducerLinger(200*time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.SASL(m))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for p := range int32(4) { // one request of about 3.6 MB: four batches of 900 KB
		rs = append(rs, &kgo.Record{Topic: "big", Partition: p, Value: bytes.Repeat([]byte{'x'}, 900_000)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("authenticated produce of 3.6 MB: %v", err)
	}
	closed("200 MiB claimed after another client authenticated", claim(200<<20))
}
