package pipeline

// A raw batch the pipeline cannot read: its CRC does not match, its
// compressed payload does not decompress, or it decompresses past the
// consumer's bound. The Inbound listener refuses such batches
// (docs/architecture.md), so only data written before that check, or a
// corruption on the backend, holds one; without this, its partition would
// stop there for good (docs/pipeline.md, "An unreadable raw batch").

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// ErrUnreadableBatch is the Keen-style error name of the dead letter of a
// raw batch the pipeline cannot read.
const ErrUnreadableBatch = "UnreadableBatchError"

// topicPartition names a raw partition.
type topicPartition struct {
	topic     string
	partition int32
}

// unreadableTracker counts, per raw partition, the consecutive fetches
// that failed to decode the batch at its position. It is used by the
// pipeline's loop only.
type unreadableTracker struct {
	m map[topicPartition]*unreadableSeen
}

type unreadableSeen struct {
	times int
	err   error
}

// decodeFailure says whether a fetch error is the consumer failing to
// decode what the broker sent (the batch's own fault), not an error of
// the broker (a Kafka error code: authorization, a moved leader, …) or of
// the client.
func decodeFailure(err error) bool {
	var ke *kerr.Error
	return err != nil && !errors.As(err, &ke) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, kgo.ErrClientClosed)
}

// failed records a fetch error of a partition.
func (u *unreadableTracker) failed(topic string, partition int32, err error) {
	if !decodeFailure(err) {
		return
	}
	if u.m == nil || len(u.m) > 1000 {
		u.m = map[topicPartition]*unreadableSeen{}
	}
	k := topicPartition{topic, partition}
	s := u.m[k]
	if s == nil {
		s = &unreadableSeen{}
		u.m[k] = s
	}
	s.times++
	s.err = err
}

// read records that a partition gave records: its position is readable.
func (u *unreadableTracker) read(topic string, partition int32) {
	delete(u.m, topicPartition{topic, partition})
}

// due returns the partitions that failed at least n consecutive times.
func (u *unreadableTracker) due(n int) []topicPartition {
	var out []topicPartition
	for k, s := range u.m {
		if s.times >= n {
			out = append(out, k)
		}
	}
	return out
}

// unreadableBatch is a raw batch the pipeline cannot read.
type unreadableBatch struct {
	topic       string
	partition   int32
	first, last int64 // the offsets it holds
	records     int32 // the records its header claims
	raw         []byte
	err         error  // what decoding it fails with
	dropped     string // the backend refused its dead letter, for this reason
}

// skipUnreadable skips, one by one, the batches of the raw partitions that
// failed to decode limits.PipelineUnreadableFetches times in a row: each
// is read once more, directly, and when it still cannot be decoded its
// offsets are committed past in a transaction with a dead letter naming
// it. It returns how many it skipped.
func (p *Pipeline) skipUnreadable(ctx context.Context, sess *kgo.GroupTransactSession) int {
	skipped := 0
	for _, tp := range p.unreadable.due(limits.PipelineUnreadableFetches) {
		p.stage(StageSkipping)
		ub, err := p.findUnreadable(ctx, sess, tp)
		if err != nil || ub == nil {
			// The batch could not be read again (the backend's error),
			// or it reads now: it is not skipped; the count starts over.
			p.unreadable.read(tp.topic, tp.partition)
			if err != nil {
				p.skipFailures.Log("topic", tp.topic, "partition", tp.partition, "err", fmt.Errorf("reading it again: %w", err))
			}
			continue
		}
		committed, err := p.skipBatch(ctx, sess, ub)
		if err != nil {
			p.skipFailures.Log("topic", tp.topic, "partition", tp.partition, "err", err)
			return skipped
		}
		if !committed {
			return skipped // a rebalance: the partition's owner finds it again
		}
		p.unreadable.read(tp.topic, tp.partition)
		skipped++
		// The consumer's position moves past the batch. SetOffsets only
		// moves a partition the client tracks offsets for (it consumed
		// or fetched a committed offset for it); otherwise a new session
		// starts from the group's offsets, which the skip committed.
		next := map[string]map[int32]kgo.EpochOffset{tp.topic: {tp.partition: {Epoch: -1, Offset: ub.last + 1}}}
		if _, ok := sess.Client().CommittedOffsets()[tp.topic][tp.partition]; ok {
			sess.Client().SetOffsets(next)
		} else {
			p.renewSession(sess)
			sess = p.sess.Load()
		}
	}
	return skipped
}

// findUnreadable reads the batch at the partition's committed position
// with a Fetch of its own and decodes it as the consumer does (same
// decompression bound). It returns nil when the position reads.
func (p *Pipeline) findUnreadable(ctx context.Context, sess *kgo.GroupTransactSession, tp topicPartition) (*unreadableBatch, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	adm := p.cfg.Backend.Admin()
	meta, err := adm.Metadata(ctx, tp.topic)
	if err != nil {
		return nil, fmt.Errorf("reading the topic's metadata: %w", err)
	}
	td, ok := meta.Topics[tp.topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("reading the topic's metadata: %v", td.Err)
	}
	pd, ok := td.Partitions[tp.partition]
	if !ok || pd.Err != nil {
		return nil, fmt.Errorf("reading the partition's metadata: %v", pd.Err)
	}
	from := int64(-1)
	if eo, ok := sess.Client().CommittedOffsets()[tp.topic][tp.partition]; ok && eo.Offset >= 0 {
		from = eo.Offset
	} else {
		starts, err := adm.ListStartOffsets(ctx, tp.topic)
		if err != nil {
			return nil, fmt.Errorf("listing the partition's start offset: %w", err)
		}
		lo, ok := starts.Lookup(tp.topic, tp.partition)
		if !ok || lo.Err != nil {
			return nil, fmt.Errorf("listing the partition's start offset: %v", lo.Err)
		}
		from = lo.Offset
	}

	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes = -1, 0, 1
	req.MaxBytes = 2 * limits.MaxMessageBytes
	req.IsolationLevel = 1 // read_committed, as the consumer
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = tp.topic, td.ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = tp.partition, from, 2*limits.MaxMessageBytes
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	resp, err := p.cfg.Backend.Client().Broker(int(pd.Leader)).Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("fetching the batch: %w", err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetching the batch: %w", err)
	}
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return nil, errors.New("fetching the batch: the response holds no partition")
	}
	part := &fr.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(part.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetching the batch: %w", err)
	}
	return firstUnreadable(tp, from, part), nil
}

// Offsets in a record batch's header (log overhead included).
const (
	batchLengthAt    = 8
	batchLastDeltaAt = 23
	batchRecordsAt   = 57
	batchHeaderLen   = 61
)

// firstUnreadable walks the batches of a fetched partition from offset
// from and decodes each as the consumer does, up to the first that gives
// records (nil: the position reads) or fails (that batch).
func firstUnreadable(tp topicPartition, from int64, rp *kmsg.FetchResponseTopicPartition) *unreadableBatch {
	b := rp.RecordBatches
	for len(b) >= batchHeaderLen {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[batchLengthAt:])))
		if size < batchHeaderLen || size > len(b) {
			return nil // a partial batch at the end of the response
		}
		first := int64(binary.BigEndian.Uint64(b))
		last := first + int64(int32(binary.BigEndian.Uint32(b[batchLastDeltaAt:])))
		one, rest := b[:size], b[size:]
		b = rest
		if last < from {
			continue
		}
		single := *rp
		single.RecordBatches = one
		fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			Offset: from, IsolationLevel: kgo.ReadCommitted(), Topic: tp.topic, Partition: tp.partition,
		}, &single, rawDecompressor, nil)
		if fp.Err != nil {
			return &unreadableBatch{topic: tp.topic, partition: tp.partition, first: first, last: last,
				records: int32(binary.BigEndian.Uint32(one[batchRecordsAt:])), raw: one, err: fp.Err}
		}
		if len(fp.Records) > 0 {
			return nil
		}
		from = last + 1 // control records, or an aborted transaction's
	}
	return nil
}

// skipBatch commits the offsets of an unreadable batch in a transaction
// that also writes its dead letter (when the project's Kafka Outbound is
// enabled), so it is skipped once, and dead-lettered once.
func (p *Pipeline) skipBatch(ctx context.Context, sess *kgo.GroupTransactSession, ub *unreadableBatch) (bool, error) {
	raw, _ := tenancy.ParseRawTopic(ub.topic)
	outbound := false
	p.cfg.Registry.Read(func(v *registry.View) {
		streams, _ := v.Streams(raw.ProjectID)
		outbound = streams.OutboundEnabled
	})
	reason := unreadableReason(ub.err)
	var recs []outRec
	dropped := ""
	if outbound && raw.ProjectID != "" && ub.dropped == "" {
		_, topic := outboundTopics(raw.ProjectID, raw.Collection)
		switch err := p.topics.Ensure(ctx, topic, OutboundPartitions, outboundTopicConfigs); {
		case err == nil:
			r := unreadableRecord(raw.Collection, ub)
			r.Topic, r.Partition = topic, p.parts.partition(topic, nil)
			recs = append(recs, outRec{rec: r, project: raw.ProjectID, dlq: true, src: pos{ub.topic, ub.partition, ub.first}})
		case topicRefused(err):
			dropped = faultReason(err)
		default:
			return false, fmt.Errorf("creating a DLQ topic: %w", err)
		}
	}
	if err := sess.Begin(); err != nil {
		p.renewSession(sess)
		return false, fmt.Errorf("beginning a transaction: %w", err)
	}
	fails, err := p.produce(ctx, sess, recs)
	if err == nil && len(fails) > 0 {
		if classifyProduce(fails[0].err) == transientFault {
			err = fmt.Errorf("producing the dead letter: %w", fails[0].err)
		} else {
			// The backend refuses the dead letter itself: the batch is
			// skipped without it, as any refused dead letter is dropped.
			p.abort(ctx, sess)
			return p.skipBatch(ctx, sess, ub.withoutCopy(faultReason(fails[0].err)))
		}
	}
	if err != nil {
		p.abort(ctx, sess)
		return false, err
	}
	commitCtx := kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		addTxnOffset(req, ub.topic, ub.partition, ub.last+1)
		return nil
	})
	p.stage(StageCommitting)
	release := time.AfterFunc(endGrace, sess.AllowRebalance)
	committed, err := sess.End(commitCtx, kgo.TryCommit)
	release.Stop()
	if err != nil {
		p.cfg.Metrics.transaction("failed")
		p.renewSession(sess)
		return false, fmt.Errorf("committing the transaction: %w", err)
	}
	if !committed {
		p.cfg.Metrics.transaction("aborted")
		return false, nil
	}
	p.cfg.Metrics.transaction("committed")
	if dropped == "" && ub.dropped != "" {
		dropped = ub.dropped
	}
	p.cfg.Metrics.unreadable(raw.ProjectID, reason, int(ub.last-ub.first+1))
	switch {
	case len(recs) > 0:
		p.cfg.Metrics.dlqWritten(raw.ProjectID, 1)
	case dropped != "":
		p.cfg.Metrics.dlqDropped(raw.ProjectID, dropped, 1)
	default:
		p.cfg.Metrics.dlqSkipped(raw.ProjectID, 1)
	}
	p.skipLog.warn(p.log, ub, len(recs) > 0, time.Now())
	return true, nil
}

// withoutCopy is ub whose dead letter is dropped for reason: skipBatch
// then writes none.
func (ub *unreadableBatch) withoutCopy(reason string) *unreadableBatch {
	c := *ub
	c.dropped = reason
	return &c
}

// addTxnOffset adds a partition's offset to a transaction's offset commit.
func addTxnOffset(req *kmsg.TxnOffsetCommitRequest, topic string, partition int32, offset int64) {
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = partition, offset, -1, &req.MemberID
	for i := range req.Topics {
		if req.Topics[i].Topic == topic {
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
			return
		}
	}
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.Partitions = topic, []kmsg.TxnOffsetCommitRequestTopicPartition{rp}
	req.Topics = append(req.Topics, rt)
}

// unreadableReason is the metric label of why a batch is unreadable.
func unreadableReason(err error) string {
	switch {
	case errors.Is(err, errDecompressTooLarge):
		return "decompresses_too_large"
	case strings.Contains(err.Error(), "decompress"):
		return "does_not_decompress"
	case strings.Contains(err.Error(), "crc"):
		return "crc_mismatch"
	}
	return "corrupt"
}

// unreadableValue is the value of an unreadable batch's dead letter: the
// DLQ's two keys (event empty: no event could be read), and the batch.
type unreadableValue struct {
	Event string        `json:"event"`
	Error string        `json:"error"`
	Batch unreadableRef `json:"batch"`
}

// unreadableRef names an unreadable raw batch.
type unreadableRef struct {
	Partition   int32 `json:"partition"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	Records     int32 `json:"records"` // as its header claims
	Bytes       int   `json:"bytes"`
	// Base64 is the batch as stored, when it fits the record.
	Base64 string `json:"base64,omitempty"`
}

// unreadableRecord is the dead letter of an unreadable batch; its keen.id
// is the one the batch's first record would have had.
func unreadableRecord(collection string, ub *unreadableBatch) *kgo.Record {
	errText := fmt.Sprintf("%s: raw partition %d, offsets %d to %d: the pipeline cannot read this batch: %v",
		ErrUnreadableBatch, ub.partition, ub.first, ub.last, ub.err)
	if len(errText) > maxDLQErrorBytes {
		errText = strings.ToValidUTF8(errText[:maxDLQErrorBytes], "") + "…"
	}
	v := unreadableValue{Error: errText, Batch: unreadableRef{
		Partition: ub.partition, FirstOffset: ub.first, LastOffset: ub.last, Records: ub.records, Bytes: len(ub.raw),
	}}
	r := &kgo.Record{Headers: recordHeaders(collection, event.ID(ub.topic, ub.partition, ub.first))}
	if base64.StdEncoding.EncodedLen(len(ub.raw))+len(errText)+512 <= limits.MaxMessageBytes-recordSize(r) {
		v.Batch.Base64 = base64.StdEncoding.EncodeToString(ub.raw)
	}
	r.Value, _ = json.Marshal(v) // strings and numbers only: cannot fail
	return r
}

// skipLog logs skipped batches, per raw partition (keyedLog).
type skipLog struct{ keyedLog[topicPartition] }

func (l *skipLog) warn(log *slog.Logger, ub *unreadableBatch, dlq bool, now time.Time) {
	if n, ok := l.due(topicPartition{ub.topic, ub.partition}, now); ok {
		log.Warn("skipped a raw batch the pipeline cannot read", "topic", ub.topic, "partition", ub.partition,
			"first_offset", ub.first, "last_offset", ub.last, "records", ub.records, "bytes", len(ub.raw),
			"dead_letter", dlq, "err", ub.err, "skipped", n)
	}
}
