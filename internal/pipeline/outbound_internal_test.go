package pipeline

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
)

// Collections whose sanitized names collide share one outbound topic; the
// header keeps each record's original collection.
func TestCollidingCollectionsShareATopicAndKeepTheirNames(t *testing.T) {
	const pid = "0123456789abcdef01234567"
	pb := &projectBatch{id: pid, outbound: true,
		events: []store.Event{
			{ProjectID: pid, Collection: "a b", ID: "id1", JSON: []byte(`{"x":1}`)},
			{ProjectID: pid, Collection: "a_b", ID: "id2", JSON: []byte(`{"x":2}`)},
			{ProjectID: pid, Collection: "$my collection$ %", ID: "id3", JSON: []byte(`{"x":3}`)},
		},
		keys: [][]byte{nil, []byte("k"), nil},
	}
	sp := newStoredProject(len(pb.events))
	for i := range sp.outcomes {
		sp.outcomes[i].Status = store.Stored
	}
	recs, err := outboundRecords(pb, sp, newPartitioner())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ topic, collection, id, value string }{
		{"sluice.out." + pid + ".a_b", "a b", "id1", `{"x":1}`},
		{"sluice.out." + pid + ".a_b", "a_b", "id2", `{"x":2}`},
		{"sluice.out." + pid + "._my_collection___", "$my collection$ %", "id3", `{"x":3}`},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i].rec
		if r.Topic != w.topic || string(r.Value) != w.value || len(r.Headers) != 2 ||
			r.Headers[0].Key != HeaderCollection || string(r.Headers[0].Value) != w.collection ||
			r.Headers[1].Key != HeaderID || string(r.Headers[1].Value) != w.id {
			t.Errorf("record %d: %s %s %v, want %+v", i, r.Topic, r.Value, r.Headers, w)
		}
	}
	if recs[1].rec.Partition != keyPartition([]byte("k"), OutboundPartitions) {
		t.Errorf("keyed record on partition %d", recs[1].rec.Partition)
	}
}

// For events stored by an earlier processing of the batch, the stored JSON
// is published; events the store does not hold (duplicates, or processed
// before but not stored) are left out.
func TestOutboundRecordsPublishWhatTheStoreHolds(t *testing.T) {
	const pid = "0123456789abcdef01234567"
	pb := &projectBatch{id: pid, outbound: true,
		events: []store.Event{
			{ProjectID: pid, Collection: "c", ID: "kept", JSON: []byte(`{"created":"now"}`)},
			{ProjectID: pid, Collection: "c", ID: "dropped", JSON: []byte(`{"dup":true}`)},
			{ProjectID: pid, Collection: "c", ID: "gone", JSON: []byte(`{"deleted":true}`)},
		},
		keys: [][]byte{nil, nil, nil},
	}
	sp := newStoredProject(len(pb.events))
	sp.outcomes[0] = store.Outcome{Status: store.Existing, JSON: []byte(`{"created":"then"}`)}
	sp.outcomes[1] = store.Outcome{Status: store.Duplicate}
	sp.outcomes[2] = store.Outcome{Status: store.Existing}
	recs, err := outboundRecords(pb, sp, newPartitioner())
	if err != nil || len(recs) != 1 || string(recs[0].rec.Value) != `{"created":"then"}` {
		t.Fatalf("records %v, %v", recs, err)
	}
	// An event without an outcome is a store's bug, not silently dropped.
	sp.outcomes[1] = store.Outcome{}
	if _, err := outboundRecords(pb, sp, newPartitioner()); err == nil {
		t.Fatal("an event without an outcome was accepted")
	}
}

func TestFitsTheOutboundMessageSize(t *testing.T) {
	hdrs := recordHeaders("c", "0123456789abcdef01234567")
	for _, c := range []struct {
		name  string
		value int
		want  bool
	}{
		{"small", 100, true},
		{"just under", limits.MaxMessageBytes - 300, true},
		{"exactly the limit", limits.MaxMessageBytes, false},
		{"over", limits.MaxMessageBytes + 1, false},
	} {
		r := &kgo.Record{Key: []byte("key"), Value: make([]byte, c.value), Headers: hdrs}
		if got := fits(r); got != c.want {
			t.Errorf("%s (%d bytes): fits = %v, want %v", c.name, c.value, got, c.want)
		}
	}
}
