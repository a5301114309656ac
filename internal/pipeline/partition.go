package pipeline

// OutboundPartitions is the partition count of every outbound and DLQ topic
// (the seed: num_partitions = 9).
const OutboundPartitions = 9

// murmur2 is Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils
// .murmur2), the one its default partitioner applies to record keys. Using
// the same function keeps a key on the partition any Kafka producer would
// have chosen for it.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// keyPartition is Kafka's default partition for a non-null key:
// toPositive(murmur2(key)) % partitions.
func keyPartition(key []byte, partitions int32) int32 {
	return int32(murmur2(key)&0x7fffffff) % partitions
}

// partitioner chooses the partition of each outbound and DLQ record: by key
// when the producer set one (so per-key order is kept), otherwise round
// robin per topic (an even spread). It is used by one goroutine only.
type partitioner struct {
	next map[string]int32
}

func newPartitioner() *partitioner { return &partitioner{next: map[string]int32{}} }

func (p *partitioner) partition(topic string, key []byte) int32 {
	if key != nil {
		return keyPartition(key, OutboundPartitions)
	}
	n := p.next[topic]
	p.next[topic] = (n + 1) % OutboundPartitions
	return n
}
