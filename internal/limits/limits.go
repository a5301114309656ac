// Package limits is the one place for every bound sluice puts on what a
// tenant may send, store or ask for. A limit is a constant when it follows
// from Kafka's or Keen's own rules (clients rely on it being the same
// everywhere), and a field of Config when an operator may want another
// value. docs/limits.md lists each one: its value, where it is enforced and
// what a client gets when it is exceeded.
package limits

import "time"

// MaxMessageBytes is message.max.bytes of every topic a client reaches:
// raw (Kafka Inbound), outbound and DLQ (Kafka Outbound). It is the seed's
// figure, which clients configure themselves by.
const MaxMessageBytes = 1048588

// MaxEventBytes bounds one event's JSON as the producer sent it (after
// decompression): Keen's limit for one event.
const MaxEventBytes = 900_000

// MaxEventDepth bounds an event's nesting of objects and arrays. Keen's
// Java SDK refuses events nested deeper than 1,000 levels; the bound also
// keeps a hostile 900 KB payload of "{" from recursing a hundred thousand
// frames deep. Deeper is an InvalidEventError.
const MaxEventDepth = 1000

// HTTP Stream API batches (Keen's limits).
const (
	MaxHTTPBatchBytes  = 10_000_000
	MaxHTTPBatchEvents = 5000
)

// MaxPropertiesPerEvent bounds the property paths of one event: the
// leaves (values that are not objects; an array is one) of the client's
// event, outside its keen object. Keen allows 1,000 unique properties per
// collection, so no event with more could ever be stored there; counting
// them while the event is read refuses a hostile event of a hundred
// thousand properties after its first thousand. Over it, the event is
// refused (PropertyLimitError): HTTP 400 or a DLQ record.
const MaxPropertiesPerEvent = 1000

// Add-ons (keen.addons): how many one event may ask for, the largest input
// (a User-Agent, a URL, an IP address, a date) any of them is given, and
// the inputs of all of an event's add-ons together. The parsers' cost grows
// with their input: keen:ua_parser runs hundreds of regular expressions
// over the whole string, about 35 µs per byte of a string it has not seen
// (one 800 KB User-Agent took 7 s of CPU), while real User-Agents and URLs
// stay under 1 KB (browsers send User-Agents of a few hundred bytes). So an
// event costs at most ~150 ms of add-on CPU, however its add-ons are
// combined. Over any of these, the event is refused (InvalidAddOnError),
// never enriched partly or skipped silently.
const (
	MaxAddonsPerEvent          = 20
	MaxAddonInputBytes         = 2048
	MaxAddonInputBytesPerEvent = 4096
)

// MaxExtractionEvents: Keen's synchronous extraction returns at most
// 100,000 events; a larger one is refused (use latest, a narrower
// timeframe or filters).
const MaxExtractionEvents = 100_000

// MaxConcurrentQueriesPerProject bounds the queries (analyses, extractions)
// one project runs at once over HTTP. DuckDB spreads one query over every
// core, so more in flight only queue inside the store, holding memory
// (an extraction up to MaxExtractionBytes) while they wait; a dashboard
// runs a few at a time. Over it: 429 TooManyRequestsError, Retry-After 1.
const MaxConcurrentQueriesPerProject = 4

// MaxPropertyRewrite bounds the events one property deletion rewrites (the
// store reads, edits and appends each one's JSON); a deletion that would
// rewrite more is refused (HTTP 400 DeleteTooLargeError). Keen's own bound
// was 10,000 events.
const MaxPropertyRewrite = 1_000_000

// MaxIntervalBuckets bounds the interval buckets of one query (Keen
// documents no figure): 20,000 is hourly over two years or minutely over
// most of two weeks, and keeps the answer of an interval query under a few
// MB. Over it, the query is refused (400) before it runs.
const MaxIntervalBuckets = 20_000

// MaxFunnelActors bounds the distinct actors of one funnel step (Keen
// documents no figure). A funnel holds each step's actors in memory to
// intersect them, so a step over it is refused (400 FunnelTooLargeError,
// found by counting before any actor is read); narrow its timeframe or
// filters.
const MaxFunnelActors = 1_000_000

// MaxQueryResults bounds the results of one grouped or interval query:
// its (bucket, group) results once zero-filled, and the values of a
// select_unique over all its results (Keen documents none; its answers
// stop at 150 MB). A million results of about 60 bytes each is an
// answer of some 60 MB. Over it, the query is refused (400
// ResultTooLargeError) before the answer is built; fewer buckets, a group_by
// with fewer values or zero_fill false bring it under.
const MaxQueryResults = 1_000_000

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
	// MaxPropertiesPerCollection bounds the typed columns of one
	// collection: one per (property path, JSON type), so "price" as a
	// number and as a string are two (Keen: 1,000 unique properties per
	// collection). Columns, not paths, because columns are what cost: the
	// store's DuckDB pins two 256 KiB blocks per column of a table when it
	// appends to it after a checkpoint (1,000 columns: 500 MiB, which
	// sets the store's memory limit, see store.MemoryLimit). An event that
	// would take its collection over it is refused by the store
	// (PropertyLimitError: a DLQ record) and the rest of its batch stored.
	MaxPropertiesPerCollection int
	// MaxExtractionBytes bounds the JSON of one synchronous extraction's
	// events; over it (or over MaxExtractionEvents events), the query is
	// refused with 400 before the events are read.
	MaxExtractionBytes int64
	// MaxExtractionBytesInFlight bounds the extraction answers the
	// process holds at once, all projects together: an extraction
	// reserves MaxExtractionBytes (at most this) before it runs and keeps
	// what its answer holds while it is written. MaxExtractionBytes and
	// MaxConcurrentQueriesPerProject bound one project; without this, N
	// projects could each hold 4 × 64 MiB. Over it: HTTP 503
	// ExtractionCapacityError, Retry-After 1.
	MaxExtractionBytesInFlight int64
	// MaxCollectionsPerProject bounds a project's collections (each is a
	// raw topic of 9 partitions, plus outbound and DLQ topics once events
	// flow). A new collection past it is refused: Kafka Inbound answers
	// TOPIC_AUTHORIZATION_FAILED, the HTTP Stream API 403
	// TooManyCollectionsError. Existing collections keep working.
	MaxCollectionsPerProject int
	// ProduceBytesPerSecond is each project's produce quota, Kafka Inbound
	// and the HTTP Stream API together, with a burst of one second's worth;
	// 0 means none (Kafka's brokers have no default quota either). Over it,
	// Kafka producers are throttled (throttle_time_ms, and their next
	// request is held until the debt is repaid) and HTTP answers 429.
	ProduceBytesPerSecond int64
	Connections
}

// Default returns the limits sluice runs with unless told otherwise.
//
// MaxCollectionsPerProject 1,000: real projects have tens of collections;
// Keen's own schema listing stops at 5,000. A collection costs about
// 400 KB of memory and some idle CPU on the embedded log (4,800 collections
// of one project took 1.9 GiB and 122 % of a core), so 1,000 keeps one
// tenant to a fifth of that.
func Default() Config {
	return Config{
		MaxPropertiesPerCollection: 1000,
		MaxExtractionBytes:         64 << 20,
		MaxExtractionBytesInFlight: 256 << 20,
		MaxCollectionsPerProject:   1000,
		Connections:                DefaultConnections(),
	}
}

// Bounds of the pipeline's handling of records that fail deterministically
// (docs/pipeline.md, "When a batch fails").
const (
	// PipelinePoisonMemory bounds the raw records the pipeline remembers
	// as failing (with the outcome it gives them when their batch is
	// processed again). The oldest are forgotten first; a forgotten one
	// is found again, at the cost of one more attempt of its batch.
	PipelinePoisonMemory = 10_000
	// PipelineStoreAttempts is how many times a batch whose store Insert
	// fails is processed whole before the pipeline looks for the events
	// the store fails on (by bisecting the project's events).
	PipelineStoreAttempts = 3
	// PipelineBisectInserts bounds the store Inserts one project's
	// bisection may make in one attempt of a batch.
	PipelineBisectInserts = 64
	// PipelineUnreadableFetches is how many consecutive fetches of a raw
	// partition may fail to decode the batch at its position (corrupt, or
	// decompressing past MaxDecompressedBatchBytes) before the pipeline
	// skips that batch with a dead letter naming it.
	PipelineUnreadableFetches = 3
)

// Fairness of the pipeline between projects (docs/pipeline.md,
// "Fairness").
const (
	// PipelineFairShare is the most records of one project a batch holds
	// while other projects are active (at least one fetched partition's
	// worth), so another project's events wait a short batch, not a
	// 40,000-record one: a quiet event waits for the batch in progress,
	// then its own, and a batch's storing grows with the share (p50 387 ms
	// at 16,384 records of 1 KB, 128 ms at 4,096, traced on a busy
	// machine). Half a row group of the store: a smaller share adds a
	// batch's fixed costs (fetch, Kafka commit, two syncs) more often and
	// slows the flooding project (4,096 stored its flood at 71% of the
	// rate of 16,384 in the same run).
	PipelineFairShare = 8_192
	// PipelineFairWindow is how long a project counts as active after a
	// poll held its records: a project sending a few events a second
	// keeps the batches short between its events, not just while one is
	// waiting.
	PipelineFairWindow = 5 * time.Second
)
