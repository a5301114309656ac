package pipeline

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// batch is one poll's work, per project, the smallest project first: an
// event becomes countable when its project's Insert commits, so a quiet
// project's few events are validated and stored before a large
// neighbour's records are even validated (storeAll).
type batch struct {
	projects []*projectBatch
	// validating is the time spent validating, all projects together.
	validating time.Duration
}

// projectBatch is one project's share of a poll: its fetched partitions,
// then, once validated, the events to store (in raw partition order, so
// per-key order carries over to the outbound topic) and the dead letters.
type projectBatch struct {
	id      string
	parts   []kgo.FetchTopicPartition // in fetch order
	raws    []tenancy.Raw             // parts' topics, parsed
	records int
	// outbound is the project's Kafka Outbound setting when the poll was
	// processed: the whole batch publishes, or none of it.
	outbound bool
	events   []store.Event
	keys     [][]byte // the producer's record key of each event (nil: none)
	payloads [][]byte // the raw record's value of each event
	dlq      []dlqItem
	invalid  map[string]int // Keen error name → count
}

type dlqItem struct {
	collection string
	src        pos
	rec        *kgo.Record // topic and partition not set yet
}

// partResult is what processing one fetched partition gives.
type partResult struct {
	outbound bool
	events   []store.Event
	keys     [][]byte
	payloads [][]byte
	dlq      []dlqItem
	invalid  map[string]int
	err      error
}

// planBatch groups a poll's partitions of raw topics by project, the
// projects with the fewest records first (in fetch order among equals, so
// the batch does not depend on anything but the poll).
func planBatch(fetches kgo.Fetches) *batch {
	b := &batch{}
	byProject := map[string]*projectBatch{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		raw, ok := tenancy.ParseRawTopic(fp.Topic)
		if !ok {
			return // matched the regex but is no raw topic
		}
		pb := byProject[raw.ProjectID]
		if pb == nil {
			pb = &projectBatch{id: raw.ProjectID, invalid: map[string]int{}}
			byProject[pb.id] = pb
			b.projects = append(b.projects, pb)
		}
		pb.parts = append(pb.parts, fp)
		pb.raws = append(pb.raws, raw)
		pb.records += len(fp.Records)
	})
	slices.SortStableFunc(b.projects, func(x, y *projectBatch) int { return x.records - y.records })
	return b
}

// validate validates and enriches a project's records. Partitions are
// processed in parallel (this is the CPU-heavy part); the results are
// merged in fetch order, so the batch does not depend on scheduling.
func (p *Pipeline) validate(pb *projectBatch) error {
	results := make([]partResult, len(pb.parts))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range pb.parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = p.processPartition(pb.raws[i], pb.parts[i].Topic, pb.parts[i].Records)
		}()
	}
	wg.Wait()

	// The events are gathered into slices of their final size: growing
	// them by appending copied a poll's events several times.
	n := 0
	for _, r := range results {
		n += len(r.events)
	}
	pb.events, pb.keys, pb.payloads = make([]store.Event, 0, n), make([][]byte, 0, n), make([][]byte, 0, n)
	var errs []error
	first := true
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", pb.parts[i].Topic, pb.parts[i].Partition, r.err))
			continue
		}
		if first {
			pb.outbound, first = r.outbound, false
		}
		pb.events = append(pb.events, r.events...)
		pb.keys = append(pb.keys, r.keys...)
		pb.payloads = append(pb.payloads, r.payloads...)
		pb.dlq = append(pb.dlq, r.dlq...)
		for name, n := range r.invalid {
			pb.invalid[name] += n
		}
	}
	return errors.Join(errs...)
}

// processPartition processes one partition's records, in order; raw is
// its topic's name parsed.
func (p *Pipeline) processPartition(raw tenancy.Raw, topic string, recs []*kgo.Record) partResult {
	res := partResult{invalid: map[string]int{},
		events: make([]store.Event, 0, len(recs)), keys: make([][]byte, 0, len(recs)), payloads: make([][]byte, 0, len(recs))}
	var autofill map[string]any
	p.cfg.Registry.Read(func(v *registry.View) {
		streams, _ := v.Streams(raw.ProjectID)
		res.outbound = streams.OutboundEnabled
		if raw.KeyID == "" {
			return
		}
		if k, ok := v.AccessKeyByID(raw.ProjectID, raw.KeyID); ok && k.Options.Writes != nil {
			autofill = k.Options.Writes.Autofill
		}
	})
	now := p.cfg.Now()
	for _, r := range recs {
		id := event.ID(topic, r.Partition, r.Offset)
		ev, err := p.cfg.Processor.Process(event.Input{
			Payload: r.Value, RecordTime: r.Timestamp, ID: id, CreatedAt: now, Autofill: autofill, Leaves: true,
		})
		var invalid *event.Error
		switch {
		case errors.As(err, &invalid):
			res.invalid[invalid.Name]++
			if res.outbound {
				res.dlq = append(res.dlq, dlqItem{collection: raw.Collection, src: pos{topic, r.Partition, r.Offset},
					rec: dlqRecord(raw.Collection, id, r.Key, r.Value, invalid.Name+": "+invalid.Message)})
			}
		case err != nil:
			res.err = fmt.Errorf("processing offset %d: %w", r.Offset, err)
			return res
		default:
			res.events = append(res.events, store.Event{
				ProjectID: raw.ProjectID, Collection: raw.Collection, ID: ev.ID,
				Timestamp: ev.Timestamp, CreatedAt: ev.CreatedAt, UniquenessToken: ev.UniquenessToken, JSON: ev.JSON, ValidUTF8: true, Leaves: ev.Leaves,
				Source: store.Source{Topic: topic, Partition: r.Partition, Offset: r.Offset},
			})
			res.keys = append(res.keys, r.Key)
			res.payloads = append(res.payloads, r.Value)
		}
	}
	return res
}
