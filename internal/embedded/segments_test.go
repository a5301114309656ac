package embedded

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSegmentsRollAndAreReadBack: a partition's log is cut into segments of
// segmentBytes, so that only the active one keeps its per-batch index in
// memory; after a restart every record, those of the sealed segments
// included, reads back in order.
func TestSegmentsRollAndAreReadBack(t *testing.T) {
	dir := t.TempDir()
	const topic, n = "rolls", 40
	value := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 900_000) }

	log, err := Start(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(log.Addrs()...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerBatchMaxBytes(1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: value(i)}).FirstErr(); err != nil {
			t.Fatalf("producing record %d: %v", i, err)
		}
	}
	cl.Close()
	log.Close()

	entries, err := os.ReadDir(filepath.Join(dir, "partitions", topic+"-0"))
	if err != nil {
		t.Fatal(err)
	}
	var segments int
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".dat") {
			segments++
		}
	}
	if want := n * 900_000 / segmentBytes; segments < want {
		t.Fatalf("%d segment files for %d MB, want at least %d", segments, n*900_000>>20, want)
	}

	log, err = Start(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cl, err = kgo.NewClient(kgo.SeedBrokers(log.Addrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for next := 0; next < n; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consuming after record %d: %v", next, err)
		}
		for _, r := range fs.Records() {
			if r.Offset != int64(next) || !bytes.Equal(r.Value, value(next)) {
				t.Fatalf("record at offset %d (value %q…), want offset %d (value %q…)", r.Offset, r.Value[:1], next, value(next)[:1])
			}
			next++
		}
	}
	t.Logf("%d records of 900 kB in %d segments, all read back after a restart", n, segments)
}
