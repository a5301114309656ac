// Package pipeline turns raw events into stored Keen events (DESIGN
// decision 6): one consumer group over every project's raw topics;
// partitions processed in parallel; each record validated and enriched by
// package event, stored idempotently, invalid ones sent to the collection's
// dead letter queue while the project's Kafka Outbound is enabled; offsets
// committed only after all of that is durable.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Group is the backend consumer group of the pipeline.
const Group = "sluice.pipeline"

// Config is what the pipeline runs with.
type Config struct {
	Backend   *backend.Backend
	Registry  *registry.Registry
	Store     store.Store
	Processor *event.Processor
	Metrics   *Metrics
	Logger    *slog.Logger
	// Now is the clock for keen.created_at (time.Now when nil).
	Now func() time.Time
}

// Pipeline is a running pipeline.
type Pipeline struct {
	cfg      Config
	consumer *kgo.Client
	producer *kgo.Client
	dlq      *backend.TopicCache
	log      *slog.Logger
	done     chan struct{}
	cancel   context.CancelFunc
}

// Start joins the pipeline's consumer group and processes until Close.
func Start(ctx context.Context, cfg Config) (*Pipeline, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	consumer, err := kgo.NewClient(cfg.Backend.Opts(
		kgo.ConsumerGroup(Group),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(tenancy.RawTopicRegex),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Processing finishes and commits before a rebalance moves a
		// partition, so no record is stored by two members at once.
		kgo.BlockRebalanceOnPoll(),
		// New collections are picked up within seconds.
		kgo.MetadataMinAge(500*time.Millisecond),
		kgo.MetadataMaxAge(2*time.Second),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("starting the pipeline consumer: %w", err)
	}
	producer, err := kgo.NewClient(cfg.Backend.Opts(
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
	)...)
	if err != nil {
		consumer.Close()
		return nil, fmt.Errorf("starting the pipeline producer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Pipeline{
		cfg: cfg, consumer: consumer, producer: producer,
		dlq: cfg.Backend.NewTopicCache(), log: cfg.Logger.With("component", "pipeline"),
		done: make(chan struct{}), cancel: cancel,
	}
	go p.run(ctx)
	return p, nil
}

// Close stops after the batch in progress and leaves the group.
func (p *Pipeline) Close() {
	p.cancel()
	<-p.done
	p.consumer.Close()
	p.producer.Close()
}

func (p *Pipeline) run(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		fetches := p.consumer.PollRecords(ctx, 20000)
		if ctx.Err() != nil {
			p.consumer.AllowRebalance()
			return
		}
		fetches.EachError(func(t string, part int32, err error) {
			p.log.Warn("reading a raw topic", "topic", t, "partition", part, "err", err)
		})
		if err := p.processAll(ctx, fetches); err != nil {
			// Nothing was committed for the failed batch: rewind to the
			// committed offsets so it is processed again (idempotently).
			p.log.Error("processing a batch; it will be retried", "err", err)
			p.rewind(ctx, fetches)
			p.consumer.AllowRebalance()
			continue
		}
		p.consumer.AllowRebalance()
	}
}

// processAll handles every partition of a fetch in parallel, then commits.
func (p *Pipeline) processAll(ctx context.Context, fetches kgo.Fetches) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	var done []*kgo.Record
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.processPartition(ctx, fp.Topic, fp.Records)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", fp.Topic, fp.Partition, err))
				return
			}
			done = append(done, fp.Records[len(fp.Records)-1])
		}()
	})
	wg.Wait()
	if len(done) > 0 {
		if err := p.consumer.CommitRecords(ctx, done...); err != nil {
			errs = append(errs, fmt.Errorf("committing offsets: %w", err))
		}
	}
	return errors.Join(errs...)
}

// rewind moves every partition of a failed fetch back to its first record,
// so the whole batch is processed again (idempotently) after a pause.
func (p *Pipeline) rewind(ctx context.Context, fetches kgo.Fetches) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		if offsets[fp.Topic] == nil {
			offsets[fp.Topic] = map[int32]kgo.EpochOffset{}
		}
		first := fp.Records[0]
		offsets[fp.Topic][fp.Partition] = kgo.EpochOffset{Epoch: first.LeaderEpoch, Offset: first.Offset}
	})
	p.consumer.SetOffsets(offsets)
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

// processPartition processes one partition's records, in order.
func (p *Pipeline) processPartition(ctx context.Context, topic string, recs []*kgo.Record) error {
	raw, ok := tenancy.ParseRawTopic(topic)
	if !ok {
		return nil // matched the regex but is no raw topic: nothing to do
	}
	var autofill map[string]any
	var streams registry.Streams
	p.cfg.Registry.Read(func(v *registry.View) {
		streams, _ = v.Streams(raw.ProjectID)
		if raw.KeyID == "" {
			return
		}
		if k, ok := v.AccessKeyByID(raw.ProjectID, raw.KeyID); ok && k.Options.Writes != nil {
			autofill = k.Options.Writes.Autofill
		}
	})
	now := p.cfg.Now()
	var events []store.Event
	var dlq []*kgo.Record
	for _, r := range recs {
		ev, err := p.cfg.Processor.Process(event.Input{
			Payload: r.Value, RecordTime: r.Timestamp, ID: event.ID(topic, r.Partition, r.Offset),
			CreatedAt: now, Autofill: autofill,
		})
		var invalid *event.Error
		switch {
		case errors.As(err, &invalid):
			p.cfg.Metrics.invalid(raw.ProjectID, invalid.Name)
			if !streams.OutboundEnabled {
				p.cfg.Metrics.dlqSkipped(raw.ProjectID)
				continue
			}
			dlq = append(dlq, dlqRecord(raw, r, invalid))
		case err != nil:
			return fmt.Errorf("processing offset %d: %w", r.Offset, err)
		default:
			events = append(events, store.Event{
				ProjectID: raw.ProjectID, Collection: raw.Collection, ID: ev.ID,
				Timestamp: ev.Timestamp, CreatedAt: ev.CreatedAt, UniquenessToken: ev.UniquenessToken, JSON: ev.JSON,
			})
		}
	}
	if len(events) > 0 {
		res, err := p.cfg.Store.Insert(ctx, events)
		if err != nil {
			return fmt.Errorf("storing %d events: %w", len(events), err)
		}
		p.cfg.Metrics.stored(raw.ProjectID, res)
	}
	if len(dlq) > 0 {
		if err := p.writeDLQ(ctx, raw, dlq); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pipeline) writeDLQ(ctx context.Context, raw tenancy.Raw, recs []*kgo.Record) error {
	topic := tenancy.BackendOutboundTopic(raw.ProjectID, tenancy.DLQTopicName(tenancy.OutboundTopicName(raw.Collection)))
	if err := p.dlq.Ensure(ctx, topic, 9, outboundTopicConfigs); err != nil {
		return err
	}
	for _, r := range recs {
		r.Topic = topic
	}
	if err := p.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("writing %d DLQ records: %w", len(recs), err)
	}
	p.cfg.Metrics.dlqWritten(raw.ProjectID, len(recs))
	return nil
}

// Settings of the outbound and DLQ topics (the seed's figures).
var outboundTopicConfigs = map[string]*string{
	"retention.ms":      ptr(strconv.FormatInt((96 * time.Hour).Milliseconds(), 10)),
	"max.message.bytes": ptr("1048588"),
}

func ptr(s string) *string { return &s }
