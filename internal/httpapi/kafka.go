package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/limits"
)

// RawEvent is one event on its way to a raw topic.
type RawEvent struct {
	Topic string
	Value []byte
}

// EventWriter writes events recorded over HTTP to their raw topics, from
// where the pipeline processes them exactly like Kafka-produced ones (one
// path).
type EventWriter interface {
	// Write creates missing raw topics and writes evs. It returns one error
	// per event, nil once the backend acknowledged that event with acks=all;
	// a *backend.CollectionLimitError for an event of a new collection past
	// the project's limit.
	Write(ctx context.Context, evs []RawEvent) []error
}

// OffsetReader reads what the Streams page's rates are computed from.
type OffsetReader interface {
	// Topics lists the backend's topic names.
	Topics(ctx context.Context) ([]string, error)
	// EndOffsets sums the end offsets of each topic's partitions; topics
	// that do not exist are left out.
	EndOffsets(ctx context.Context, topics []string) (map[string]int64, error)
}

// Kafka is the EventWriter and OffsetReader over sluice's backend.
type Kafka struct {
	b        *backend.Backend
	producer *kgo.Client
	topics   *backend.RawTopics
}

// NewKafka starts the producer of HTTP events. Close it after the HTTP
// server has stopped. Raw topics are created as the Inbound listener
// creates them (backend.RawTopics), within lim's collections per project.
func NewKafka(b *backend.Backend, lim limits.Config) (*Kafka, error) {
	producer, err := kgo.NewClient(b.Opts(
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// An answer waits for its events: keep the wait for a batch short.
		kgo.ProducerLinger(time.Millisecond),
		// One event may be limits.MaxEventBytes; raw topics take batches
		// of limits.MaxMessageBytes.
		kgo.ProducerBatchMaxBytes(limits.MaxMessageBytes),
	)...)
	if err != nil {
		return nil, fmt.Errorf("starting the HTTP events producer: %w", err)
	}
	return &Kafka{b: b, producer: producer, topics: b.NewRawTopics(lim.MaxCollectionsPerProject)}, nil
}

// Close flushes nothing (every Write waited for its acknowledgements) and
// releases the producer.
func (k *Kafka) Close() { k.producer.Close() }

// Write implements EventWriter.
func (k *Kafka) Write(ctx context.Context, evs []RawEvent) []error {
	errs := make([]error, len(evs))
	ensured := map[string]error{}
	var recs []*kgo.Record
	var idx []int
	for i, ev := range evs {
		err, seen := ensured[ev.Topic]
		if !seen {
			err = k.topics.Ensure(ctx, ev.Topic)
			ensured[ev.Topic] = err
		}
		if err != nil {
			errs[i] = err
			continue
		}
		recs = append(recs, &kgo.Record{Topic: ev.Topic, Value: ev.Value})
		idx = append(idx, i)
	}
	if len(recs) == 0 {
		return errs
	}
	for j, res := range k.producer.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			errs[idx[j]] = fmt.Errorf("writing an event to the backend: %w", res.Err)
		}
	}
	return errs
}

// Topics implements OffsetReader.
func (k *Kafka) Topics(ctx context.Context) ([]string, error) {
	td, err := k.b.Admin().ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing backend topics: %w", err)
	}
	names := make([]string, 0, len(td))
	for name, d := range td {
		if d.Err == nil {
			names = append(names, name)
		}
	}
	return names, nil
}

// EndOffsets implements OffsetReader.
func (k *Kafka) EndOffsets(ctx context.Context, topics []string) (map[string]int64, error) {
	out := make(map[string]int64, len(topics))
	if len(topics) == 0 {
		return out, nil // kadm would list every topic of the cluster
	}
	ends, err := k.b.Admin().ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			out[o.Topic] += o.Offset
		}
	})
	return out, nil
}
