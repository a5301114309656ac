package gatewaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Compression codecs of a batch's attributes.
const (
	CodecGzip = 1
	CodecZstd = 4
)

// CompressedBatch returns a valid batch of values compressed with codec
// (CodecGzip or CodecZstd).
func CompressedBatch(codec int16, values ...[]byte) []byte {
	return SealBatch(codec, int32(len(values)), compress(codec, records(values...)))
}

// SealBatch wraps payload (records, compressed as codec says) in a batch
// claiming count records, with a correct CRC.
func SealBatch(codec int16, count int32, payload []byte) []byte {
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: codec,
		LastOffsetDelta: count - 1, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: count, Records: payload,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func records(values ...[]byte) []byte {
	var out []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: v}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		out = r.AppendTo(out)
	}
	return out
}

func compress(codec int16, b []byte) []byte {
	switch codec {
	case CodecGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	case CodecZstd:
		w, err := zstd.NewWriter(nil)
		if err != nil {
			panic(err)
		}
		return w.EncodeAll(b, nil)
	}
	panic(fmt.Sprintf("codec %d", codec))
}

// CorruptGzipBatch is gzip-flagged random bytes with a valid CRC.
func CorruptGzipBatch() []byte {
	junk := make([]byte, 512)
	rand.Read(junk)
	return SealBatch(CodecGzip, 1, junk)
}

// ShortBatch claims 3 records and holds 1.
func ShortBatch() []byte { return SealBatch(0, 3, records([]byte(`{"short":true}`))) }

// BrokenCRCBatch is a valid batch of n records of size bytes each with one
// byte of the middle record's value changed after the CRC was taken: only
// the CRC tells, and it must be checked over the whole batch, not its
// first bytes (100 records of 1 KB span several TLS records).
func BrokenCRCBatch(n, size int) []byte {
	b := SealBatch(0, int32(n), records(LargeValues(n, size)...))
	b[len(b)/2] ^= 0x20
	return b
}

// LargeValues are n JSON values of size bytes each (a size under about
// 20 gives values a little longer).
func LargeValues(n, size int) [][]byte {
	values := make([][]byte, n)
	for i := range values {
		v := fmt.Sprintf(`{"i":%d,"pad":"`, i)
		values[i] = []byte(v + strings.Repeat("x", max(0, size-len(v)-2)) + `"}`)
	}
	return values
}

// GzipBomb is a small gzip batch holding one record of 5,000,029 bytes.
func GzipBomb() []byte {
	return CompressedBatch(CodecGzip, []byte(`{"blob":"`+strings.Repeat("a", 5_000_017)+`"}`))
}

// ZstdBomb is a small zstd batch of 200 valid events of 899 KB each.
func ZstdBomb() []byte {
	event := []byte(`{"blob":"` + strings.Repeat("b", 899_000) + `"}`)
	events := make([][]byte, 200)
	for i := range events {
		events[i] = event
	}
	return CompressedBatch(CodecZstd, events...)
}

// PoisonBatches are the corrupt and oversized batches the Inbound listener
// refuses, with the code and a fragment of the message.
func PoisonBatches() []PoisonCase {
	return []PoisonCase{
		{"gzip of random bytes", CorruptGzipBatch(), kerr.CorruptMessage.Code, "gzip payload does not decompress"},
		{"claims 3 records, holds 1", ShortBatch(), kerr.CorruptMessage.Code, "claims 3 records but holds 1"},
		{"gzip bomb", GzipBomb(), kerr.MessageTooLarge.Code, "more than message.max.bytes"},
		{"zstd bomb", ZstdBomb(), kerr.MessageTooLarge.Code, "decompresses to more than"},
		{"CRC broken, small batch", BrokenCRCBatch(1, 100), kerr.CorruptMessage.Code, "the CRC-32C of the batch is"},
		{"CRC broken in the middle of a 100 KB batch", BrokenCRCBatch(100, 1000), kerr.CorruptMessage.Code, "the CRC-32C of the batch is"},
	}
}

// PoisonCase is one refused batch.
type PoisonCase struct {
	Name  string
	Batch []byte
	Code  int16
	Msg   string
}

// CorruptBatchesRefused: every poison batch is refused with its code and a
// message saying why, nothing of it reaches the backend, and a valid batch
// for another partition in the same request is written.
func CorruptBatchesRefused(t *testing.T, e *Env) {
	p := e.Project("Poison")
	ensureTopic(t, e, p.ID, p.WriteKey, "orders")
	c := e.LeaderConn(e.InAddr, p.ID, p.WriteKey, "orders", 0)
	raw := tenancy.RawTopic(p.ID, "", "orders")
	for _, tc := range PoisonBatches() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Logf("%d bytes", len(tc.Batch))
			code, msg := produceCode(t, c, produceReq(9, "orders", tc.Batch))
			if code != tc.Code || !strings.Contains(msg, tc.Msg) {
				t.Fatalf("got %v %q, want %v mentioning %q", kerr.ErrorForCode(code), msg, kerr.ErrorForCode(tc.Code), tc.Msg)
			}
		})
	}
	if n := len(e.BackendRecords(raw)); n != 0 {
		t.Fatalf("refused batches wrote %d records", n)
	}

	t.Run("other partitions of the request are written", func(t *testing.T) {
		other := sameLeaderPartition(t, c, "orders", 0)
		req := produceReq(9, "orders", CorruptGzipBatch())
		req.Topics[0].Partitions = append(req.Topics[0].Partitions,
			kmsg.ProduceRequestTopicPartition{Partition: other, Records: CompressedBatch(CodecZstd, []byte(`{"fine":1}`), []byte(`{"fine":2}`))})
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int32]int16{}
		for _, tp := range r.(*kmsg.ProduceResponse).Topics {
			for _, pp := range tp.Partitions {
				got[pp.Partition] = pp.ErrorCode
			}
		}
		if got[0] != kerr.CorruptMessage.Code || got[other] != 0 || len(got) != 2 {
			t.Fatalf("codes by partition %v, want 0: CORRUPT_MESSAGE, %d: none", got, other)
		}
		recs := e.BackendRecords(raw)
		if len(recs) != 2 {
			t.Fatalf("%d records written, want the 2 of partition %d", len(recs), other)
		}
		for _, r := range recs {
			if r.Partition != other {
				t.Fatalf("a record landed in partition %d", r.Partition)
			}
		}
	})

	// The same batch as the broken one above, intact.
	t.Run("a valid 100 KB batch is written", func(t *testing.T) {
		before := len(e.BackendRecords(raw))
		if code, msg := produceCode(t, c, produceReq(9, "orders", SealBatch(0, 100, records(LargeValues(100, 1000)...)))); code != 0 {
			t.Fatalf("got %v %q", kerr.ErrorForCode(code), msg)
		}
		if n := len(e.BackendRecords(raw)) - before; n != 100 {
			t.Fatalf("%d records written, want 100", n)
		}
	})
}

// sameLeaderPartition returns another partition of topic led by the same
// node as partition p, which c (p's leader) may produce to.
func sameLeaderPartition(t *testing.T, c interface {
	Do(kmsg.Request) (kmsg.Response, error)
}, topic string, p int32) int32 {
	t.Helper()
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
	r, err := c.Do(meta)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int32{}
	for _, mt := range r.(*kmsg.MetadataResponse).Topics {
		for _, mp := range mt.Partitions {
			leaders[mp.Partition] = mp.Leader
		}
	}
	for q, l := range leaders {
		if q != p && l == leaders[p] {
			return q
		}
	}
	t.Skipf("no other partition of %s shares partition %d's leader", topic, p)
	return 0
}

// CompressedProducesLand: franz-go's own gzip, snappy, lz4 and zstd batches
// pass the validation.
func CompressedProducesLand(t *testing.T, e *Env) {
	p := e.Project("Codecs")
	for _, codec := range []kgo.CompressionCodec{kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		cl := e.Producer(p.ID, p.WriteKey, kgo.ProducerBatchCompression(codec))
		ProduceN(t, cl, "compressed", 50)
		cl.Close()
	}
	if got := len(e.BackendRecords(tenancy.RawTopic(p.ID, "", "compressed"))); got != 200 {
		t.Fatalf("%d records written, want 200", got)
	}
}

// CollectionLimit needs an Env started with MaxCollectionsPerProject 3: the
// fourth collection is refused (Metadata and Produce), without a backend
// topic; the project's existing collections, also written through an
// autofill access key (a second raw topic of the same collection), and
// other projects go on; a producer fails the record at once.
func CollectionLimit(t *testing.T, e *Env) {
	p, other := e.Project("Collector"), e.Project("Neighbour")
	for _, name := range []string{"c1", "c2", "c3"} {
		ensureTopic(t, e, p.ID, p.WriteKey, name)
	}
	c := e.Raw(e.InAddr, p.ID, p.WriteKey)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: str("c4")}, {Topic: str("c1")}}
	r, err := c.Do(meta)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, mt := range r.(*kmsg.MetadataResponse).Topics {
		codes[*mt.Topic] = mt.ErrorCode
	}
	if codes["c4"] != kerr.TopicAuthorizationFailed.Code || codes["c1"] != 0 {
		t.Fatalf("metadata codes %v, want c4: TOPIC_AUTHORIZATION_FAILED, c1: none", codes)
	}
	code, msg := produceCode(t, c, produceReq(9, "c4", JSONBatch([]byte(`{"a":1}`))))
	if code != kerr.TopicAuthorizationFailed.Code || !strings.Contains(msg, "has 3 collections, its limit (3)") {
		t.Fatalf("produce to c4: %v %q", kerr.ErrorForCode(code), msg)
	}
	if e.TopicExists(tenancy.RawTopic(p.ID, "", "c4")) {
		t.Fatal("a raw topic was created past the limit")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := e.Producer(p.ID, p.WriteKey)
	start := time.Now()
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "c4", Value: []byte(`{"a":1}`)}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("franz-go producing to c4: %v", err)
	}
	t.Logf("franz-go failed the record after %v", time.Since(start))
	ProduceN(t, cl, "c1", 3)

	ak := e.AccessKey(p.ID, autofillKey())
	ProduceN(t, e.Producer(p.ID, ak.Key), "c2", 2)
	if got := len(e.BackendRecords(tenancy.RawTopic(p.ID, tenancy.KeyID(ak.Key), "c2"))); got != 2 {
		t.Fatalf("the access key's raw topic of c2 has %d records, want 2", got)
	}
	ProduceN(t, e.Producer(other.ID, other.WriteKey), "c4", 1)
}

func autofillKey() registry.AccessKey {
	return registry.AccessKey{Name: "auto", IsActive: true, Permitted: []string{registry.PermWrites},
		Options: registry.Options{Writes: &registry.WritesOptions{Autofill: map[string]any{"tenant": "a"}}}}
}
