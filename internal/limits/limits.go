// Package limits is the one place for every bound sluice puts on what a
// tenant may send, store or ask for. A limit is a constant when it follows
// from Kafka's or Keen's own rules (clients rely on it being the same
// everywhere), and a field of Config when an operator may want another
// value. docs/limits.md lists each one: its value, where it is enforced and
// what a client gets when it is exceeded.
package limits

// MaxMessageBytes is message.max.bytes of every topic a client reaches:
// raw (Kafka Inbound), outbound and DLQ (Kafka Outbound). It is the seed's
// figure, which clients configure themselves by.
const MaxMessageBytes = 1048588

// MaxEventBytes bounds one event's JSON as the producer sent it (after
// decompression): Keen's limit for one event.
const MaxEventBytes = 900_000

// HTTP Stream API batches (Keen's limits).
const (
	MaxHTTPBatchBytes  = 10_000_000
	MaxHTTPBatchEvents = 5000
)

// MaxDecompressedBatchBytes bounds what one compressed record batch may
// decompress to. The Inbound listener refuses a batch past it
// (MESSAGE_TOO_LARGE) after decompressing at most this much, so a
// compression bomb costs no more; whatever reads raw topics may rely on it.
//
// 16 MiB is 16 times the largest compressed batch a raw topic takes
// (MaxMessageBytes): JSON events compress 3–10 times with gzip, snappy, lz4
// or zstd, and the common producers bound a batch before compression at
// about 1 MB (librdkafka's batch.size, franz-go's ProducerBatchMaxBytes) or
// fill a 16 KB–1 MB batch.size by an estimated ratio (Java), so a
// legitimate batch stays well below it. A Java producer that does pass it
// splits the batch on MESSAGE_TOO_LARGE and sends the halves.
const MaxDecompressedBatchBytes = 16 << 20

// Config holds the limits an operator may change. The zero value is not
// usable; start from Default.
type Config struct {
	// MaxCollectionsPerProject bounds a project's collections (each is a
	// raw topic of 9 partitions, plus outbound and DLQ topics once events
	// flow). A new collection past it is refused: Kafka Inbound answers
	// TOPIC_AUTHORIZATION_FAILED, the HTTP Stream API 403
	// TooManyCollectionsError. Existing collections keep working.
	MaxCollectionsPerProject int
}

// Default returns the limits sluice runs with unless told otherwise.
//
// MaxCollectionsPerProject 1,000: real projects have tens of collections;
// Keen's own schema listing stops at 5,000. A collection costs about
// 400 KB of memory and some idle CPU on the embedded log (4,800 collections
// of one project took 1.9 GiB and 122 % of a core), so 1,000 keeps one
// tenant to a fifth of that.
func Default() Config {
	return Config{MaxCollectionsPerProject: 1000}
}
