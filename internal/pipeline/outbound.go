package pipeline

import (
	"context"
	"encoding/json"
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
// stream: one per stored event, value = the JSON the store holds. Events
// the store refused (by index) are left out. stored, when not nil, maps
// keen.id to that JSON (see storedJSON); an event missing from it was not
// stored and is not published.
func outboundRecords(pb *projectBatch, refused map[int]*event.Error, stored map[string][]byte, parts *partitioner) []outRec {
	out := make([]outRec, 0, len(pb.events))
	for i, ev := range pb.events {
		if refused[i] != nil {
			continue
		}
		value := ev.JSON
		if stored != nil {
			v, ok := stored[ev.ID]
			if !ok {
				continue
			}
			value = v
		}
		topic, _ := outboundTopics(pb.id, ev.Collection)
		key := pb.keys[i]
		out = append(out, outRec{project: pb.id, src: sourcePos(ev.Source), rec: &kgo.Record{
			Topic: topic, Partition: parts.partition(topic, key), Key: key, Value: value,
			Headers: recordHeaders(ev.Collection, ev.ID),
		}})
	}
	return out
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

// storedJSON returns, by keen.id, the JSON the store holds for events. It
// is needed only when Insert found some events already stored (a batch
// processed again after a crash or an aborted transaction: the stored JSON
// has the first processing's keen.created_at) or dropped some (uniqueness
// tokens): Insert reports counts, not which events.
func storedJSON(ctx context.Context, st store.Store, pid string, events []store.Event) (map[string][]byte, error) {
	const chunk = 500
	byCollection := map[string][]any{}
	var order []string
	for _, ev := range events {
		if _, ok := byCollection[ev.Collection]; !ok {
			order = append(order, ev.Collection)
		}
		byCollection[ev.Collection] = append(byCollection[ev.Collection], ev.ID)
	}
	out := make(map[string][]byte, len(events))
	for _, coll := range order {
		ids := byCollection[coll]
		for start := 0; start < len(ids); start += chunk {
			res, err := st.Run(ctx, store.Query{ProjectID: pid, Collection: coll, Analysis: store.Extraction, Filters: []store.Filter{
				{Path: []string{"keen", "id"}, Operator: "in", Value: ids[start:min(start+chunk, len(ids))]},
			}})
			if err != nil {
				return nil, fmt.Errorf("reading back stored events of %s: %w", coll, err)
			}
			for _, doc := range res.Events {
				var v struct {
					Keen struct {
						ID string `json:"id"`
					} `json:"keen"`
				}
				if err := json.Unmarshal(doc, &v); err != nil {
					return nil, fmt.Errorf("reading back a stored event of %s: %w", coll, err)
				}
				out[v.Keen.ID] = doc
			}
		}
	}
	return out, nil
}
