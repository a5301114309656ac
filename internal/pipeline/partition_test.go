package pipeline

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Vectors from Kafka's own UtilsTest.testMurmur2.
func TestMurmur2MatchesKafka(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		if got := int32(murmur2([]byte(c.in))); got != c.want {
			t.Errorf("murmur2(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// The key partition agrees with franz-go's Kafka-compatible default
// partitioner, an independent implementation of Kafka's rule.
func TestKeyPartitionMatchesKafkaDefault(t *testing.T) {
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for _, key := range []string{"", "a", "user-1", "user-2", "ключ", "a-little-bit-longer-string", "\x00\xff"} {
		for _, n := range []int{1, 3, 9, 10} {
			want := kafka.Partition(&kgo.Record{Key: []byte(key)}, n)
			if got := keyPartition([]byte(key), int32(n)); int(got) != want {
				t.Errorf("key %q over %d partitions: %d, want %d", key, n, got, want)
			}
		}
	}
}

func TestPartitionerSpreadsUnkeyedEvenlyPerTopic(t *testing.T) {
	p := newPartitioner()
	counts := map[string][]int{"a": make([]int, OutboundPartitions), "b": make([]int, OutboundPartitions)}
	for i := 0; i < 5*OutboundPartitions; i++ {
		counts["a"][p.partition("a", nil)]++
		if i%5 == 0 {
			counts["b"][p.partition("b", nil)]++
		}
		if got, want := p.partition("a", []byte("k")), keyPartition([]byte("k"), OutboundPartitions); got != want {
			t.Fatalf("keyed record on partition %d, want %d", got, want)
		}
	}
	for part, n := range counts["a"] {
		if n != 5 {
			t.Errorf("topic a partition %d got %d records, want 5", part, n)
		}
	}
	for part, n := range counts["b"] {
		if n != 1 {
			t.Errorf("topic b partition %d got %d records, want 1", part, n)
		}
	}
}
