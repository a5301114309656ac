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

// Config holds the limits an operator may change. The zero value is not
// usable; start from Default.
type Config struct {
	Connections
}

// Default returns the limits sluice runs with unless told otherwise.
func Default() Config {
	return Config{
		Connections: DefaultConnections(),
	}
}
