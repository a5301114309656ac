package pipeline

import (
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Settings of the outbound and DLQ topics (the seed's figures).
var outboundTopicConfigs = map[string]*string{
	"retention.ms":      ptr(strconv.FormatInt((96 * time.Hour).Milliseconds(), 10)),
	"max.message.bytes": ptr(strconv.Itoa(limits.MaxMessageBytes)),
}

func ptr(s string) *string { return &s }

// outboundTopics are the backend topics of a collection's outbound stream
// and DLQ. Collections whose sanitized names collide share them.
func outboundTopics(pid, collection string) (stream, dlq string) {
	name := tenancy.OutboundTopicName(collection)
	return tenancy.BackendOutboundTopic(pid, name), tenancy.BackendOutboundTopic(pid, tenancy.DLQTopicName(name))
}

// batchOverhead bounds what a record batch of one record adds to the
// record's key, value and headers (61 bytes of batch header, a few varints
// per record and per header).
const batchOverhead = 128

// recordSize bounds the size of a one-record batch of r, as a broker
// measures it against max.message.bytes.
func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value) + batchOverhead
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// fits says whether a one-record batch of r stays within the outbound
// topics' max.message.bytes: an event enriched past it is stored but
// cannot be streamed, and trying would fail the transaction.
func fits(r *kgo.Record) bool { return recordSize(r) <= limits.MaxMessageBytes }

// recordBytes is what a record carries: key, value and headers.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// outboundRecords builds the records of a project's batch for its outbound
// stream: one per event stored, value = the JSON the store holds: the
// event's own for one stored now, the stored JSON for one stored by an
// earlier processing of the batch (store.Existing, e.g. after a crash or an
// aborted transaction: it has that processing's keen.created_at). Events
// dropped as duplicates, refused, or no longer stored are left out.
func outboundRecords(pb *projectBatch, sp *storedProject, parts *partitioner) ([]outRec, error) {
	out := make([]outRec, 0, len(pb.events))
	for i, ev := range pb.events {
		if sp.refused[i] != nil {
			continue
		}
		var value []byte
		switch o := sp.outcomes[i]; o.Status {
		case store.Stored:
			value = ev.JSON
		case store.Existing:
			if o.JSON == nil {
				continue
			}
			value = o.JSON
		case store.Duplicate:
			continue
		default:
			return nil, fmt.Errorf("the store gave event %s (collection %s) no outcome (status %d)", ev.ID, ev.Collection, o.Status)
		}
		topic, _ := outboundTopics(pb.id, ev.Collection)
		key := pb.keys[i]
		out = append(out, outRec{project: pb.id, src: sourcePos(ev.Source), rec: &kgo.Record{
			Topic: topic, Partition: parts.partition(topic, key), Key: key, Value: value,
			Headers: recordHeaders(ev.Collection, ev.ID),
		}})
	}
	return out, nil
}

// dlqRecords places a project's dead letters on their DLQ topics: the
// invalid events', then those of the events the store refused.
func dlqRecords(pb *projectBatch, refused map[int]*event.Error, parts *partitioner) []outRec {
	out := make([]outRec, 0, len(pb.dlq)+len(refused))
	place := func(collection string, src pos, r *kgo.Record) {
		_, topic := outboundTopics(pb.id, collection)
		r.Topic, r.Partition = topic, parts.partition(topic, r.Key)
		out = append(out, outRec{project: pb.id, src: src, dlq: true, rec: r})
	}
	for _, d := range pb.dlq {
		place(d.collection, d.src, d.rec)
	}
	for i, ev := range pb.events { // in order, for the partitioner
		if e := refused[i]; e != nil {
			place(ev.Collection, sourcePos(ev.Source), dlqRecord(ev.Collection, ev.ID, pb.keys[i], pb.payloads[i], e.Name+": "+e.Message))
		}
	}
	return out
}
