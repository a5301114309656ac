// Package rawtrim deletes, on the embedded log, the raw records the pipeline
// is done with. A raw topic is a buffer between Kafka Inbound and the
// pipeline, read by nothing else: once the pipeline's group has committed
// past a record, the record is stored and streamed, and no restart, takeover
// or rebalance reads it again (a consumer resumes at the committed offset).
//
// Why only the embedded log: it keeps an in-memory index entry for every
// batch it holds (about 72 bytes), so raw topics kept for the default
// retention made sluice's memory grow with every batch a producer sent —
// linearly, for days. Apache Kafka keeps its indexes on disk and its
// retention is the operator's to choose (docs/operations.md).
package rawtrim

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// Interval is how often sluice reads the committed offsets and trims the
// raw topics: often enough that at most a minute of batches is held beyond
// what the pipeline has not processed yet, rarely enough to cost nothing
// (three small requests).
const Interval = 30 * time.Second

// Partition names one partition.
type Partition struct {
	Topic     string
	Partition int32
}

// Plan is the pure rule: for every raw topic partition whose committed
// offset (of the pipeline's group) is past its log start offset, the offset
// below which its records are deleted — the committed one. Partitions of
// any other topic, with no commit, or already trimmed there are left out.
func Plan(committed, start map[Partition]int64) map[Partition]int64 {
	out := map[Partition]int64{}
	for p, c := range committed {
		if _, ok := tenancy.ParseRawTopic(p.Topic); !ok || c <= 0 {
			continue
		}
		if s, ok := start[p]; ok && c > s {
			out[p] = c
		}
	}
	return out
}

// Trimmer trims the raw topics of one backend.
type Trimmer struct {
	admin *kadm.Client
	group string
	every time.Duration
	log   *slog.Logger
}

// New returns a trimmer following group's committed offsets, trimming every
// interval (Interval in sluice).
func New(admin *kadm.Client, group string, every time.Duration, logger *slog.Logger) *Trimmer {
	return &Trimmer{admin: admin, group: group, every: every, log: logger}
}

// Run trims every interval until ctx ends. A failed round is logged and
// the next one tries again: trimming is housekeeping, never a reason to stop.
func (t *Trimmer) Run(ctx context.Context) {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := t.Once(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("trimming raw topics", "err", err)
		} else if n > 0 {
			t.log.Debug("trimmed raw topics", "partitions", n)
		}
	}
}

// Once trims what Plan says and returns how many partitions it trimmed.
func (t *Trimmer) Once(ctx context.Context) (int, error) {
	offs, err := t.admin.FetchOffsets(ctx, t.group)
	if err != nil {
		return 0, fmt.Errorf("reading %s's committed offsets: %w", t.group, err)
	}
	committed := map[Partition]int64{}
	seen := map[string]bool{}
	var topics []string
	offs.Each(func(o kadm.OffsetResponse) {
		if _, raw := tenancy.ParseRawTopic(o.Topic); o.Err != nil || !raw {
			return
		}
		if !seen[o.Topic] {
			seen[o.Topic] = true
			topics = append(topics, o.Topic)
		}
		committed[Partition{o.Topic, o.Partition}] = o.At
	})
	if len(topics) == 0 {
		return 0, nil
	}
	sort.Strings(topics)
	starts, err := t.admin.ListStartOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("listing raw topics' start offsets: %w", err)
	}
	start := map[Partition]int64{}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			start[Partition{o.Topic, o.Partition}] = o.Offset
		}
	})
	plan := Plan(committed, start)
	if len(plan) == 0 {
		return 0, nil
	}
	var del kadm.Offsets
	for p, at := range plan {
		del.Add(kadm.Offset{Topic: p.Topic, Partition: p.Partition, At: at})
	}
	res, err := t.admin.DeleteRecords(ctx, del)
	if err != nil {
		return 0, fmt.Errorf("deleting consumed raw records: %w", err)
	}
	n := 0
	for _, r := range res.Sorted() {
		if r.Err != nil {
			return n, fmt.Errorf("deleting consumed raw records of %s[%d]: %w", r.Topic, r.Partition, r.Err)
		}
		n++
	}
	return n, nil
}
