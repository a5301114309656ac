package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// Every stored event becomes one record on its outbound topic: value = the
// stored JSON, headers = collection and keen.id, keyed records on Kafka's
// key partition in order, unkeyed ones spread evenly.
func TestPublishesStoredEventsToTheOutboundTopic(t *testing.T) {
	e := newEnv(t)
	e.stop()
	metrics := pipeline.NewMetrics(e.metrics)
	e.start(func(c *pipeline.Config) { c.Metrics = metrics })
	p := e.project()
	e.enable(p.ID, true)

	raw := tenancy.RawTopic(p.ID, "", "purchases")
	var recs []*kgo.Record
	for i := 0; i < 90; i++ { // unkeyed
		recs = append(recs, &kgo.Record{Topic: raw, Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	for i := 0; i < 60; i++ { // keyed, 6 keys
		recs = append(recs, &kgo.Record{Topic: raw, Key: []byte("user-" + strconv.Itoa(i%6)), Value: []byte(fmt.Sprintf(`{"n":%d,"keyed":true}`, i))})
	}
	e.produceRecords(recs...)
	e.waitCount(p.ID, "purchases", 150)

	out := tenancy.BackendOutboundTopic(p.ID, "purchases")
	got := readAll(t, e.b, out, 150)
	if len(got) != 150 {
		t.Fatalf("%d outbound records, want 150", len(got))
	}
	stored := e.storedByID(p.ID, "purchases")
	kafka := kgo.StickyKeyPartitioner(nil).ForTopic(out)
	unkeyed := make([]int, pipeline.OutboundPartitions)
	lastN := map[string]int{}
	seen := map[string]bool{}
	for _, r := range got {
		h := headers(r)
		id := h[pipeline.HeaderID]
		if string(r.Value) != string(stored[id]) || stored[id] == nil {
			t.Fatalf("record %s value %s, stored %s", id, r.Value, stored[id])
		}
		if len(r.Headers) != 2 || h[pipeline.HeaderCollection] != "purchases" || seen[id] {
			t.Fatalf("record headers %v (seen before: %v)", r.Headers, seen[id])
		}
		seen[id] = true
		var v struct{ N int }
		_ = json.Unmarshal(r.Value, &v)
		if r.Key == nil {
			unkeyed[r.Partition]++
			continue
		}
		if want := kafka.Partition(r, pipeline.OutboundPartitions); int(r.Partition) != want {
			t.Errorf("key %s on partition %d, Kafka's default partitioner says %d", r.Key, r.Partition, want)
		}
		if last, ok := lastN[string(r.Key)]; ok && v.N < last {
			t.Errorf("key %s: n=%d after n=%d", r.Key, v.N, last)
		}
		lastN[string(r.Key)] = v.N
	}
	for part, n := range unkeyed {
		if n != 10 {
			t.Errorf("partition %d holds %d unkeyed records, want 10 (even spread): %v", part, n, unkeyed)
		}
	}
	if n := metricValue(t, e.metrics, "sluice_pipeline_outbound_records_total", p.ID); n != 150 {
		t.Errorf("outbound records metric %v, want 150", n)
	}
	var bytes int
	for _, r := range got {
		bytes += len(r.Key) + len(r.Value) + len(pipeline.HeaderCollection) + len("purchases") + len(pipeline.HeaderID) + 24
	}
	if n := metricValue(t, e.metrics, "sluice_pipeline_outbound_bytes_total", p.ID); n != float64(bytes) {
		t.Errorf("outbound bytes metric %v, want %d", n, bytes)
	}
	// Every committed batch's steps are timed: as many observations per
	// step as committed transactions, and storing and committing took time.
	committed := series(t, e.metrics, "sluice_pipeline_transactions_total", "result", "committed").GetCounter().GetValue()
	for _, step := range []string{"validating", "storing", "publishing", "committing"} {
		h := series(t, e.metrics, "sluice_pipeline_batch_seconds", "step", step).GetHistogram()
		if committed < 1 || float64(h.GetSampleCount()) != committed {
			t.Errorf("step %s: %d batches timed, %v committed", step, h.GetSampleCount(), committed)
		}
		if (step == "storing" || step == "committing") && h.GetSampleSum() <= 0 {
			t.Errorf("step %s: no time recorded", step)
		}
	}
}

// Disabled: nothing is published and no topic is created. Enabling creates
// the topics of the existing collections (with the seed's settings) and
// publishes new events only: events processed while disabled are not
// back-filled.
func TestOutboundDisabledThenEnabled(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	e.produce(tenancy.RawTopic(p.ID, "", "clicks"), `{"before":1}`, `not json`)
	e.produce(tenancy.RawTopic(p.ID, tenancy.KeyID(registry.NewKey()), "views"), `{"before":2}`)
	e.waitCount(p.ID, "clicks", 1)
	clicks := tenancy.BackendOutboundTopic(p.ID, "clicks")
	want := []string{clicks, clicks + "-dlq", tenancy.BackendOutboundTopic(p.ID, "views"), tenancy.BackendOutboundTopic(p.ID, "views-dlq")}
	if ex := e.existing(want...); len(ex) != 0 {
		t.Fatalf("outbound topics %v exist while outbound is disabled", ex)
	}

	e.enable(p.ID, true)
	for _, topic := range want {
		e.waitTopic(topic)
	}
	e.checkTopicSettings(want...)

	e.produce(tenancy.RawTopic(p.ID, "", "clicks"), `{"after":1}`, `nope`)
	e.waitCount(p.ID, "clicks", 2)
	got := readAll(t, e.b, clicks, 1)
	if len(got) != 1 || !json.Valid(got[0].Value) || string(got[0].Value) == "" {
		t.Fatalf("outbound records %v, want only the event sent after enabling", got)
	}
	var v map[string]any
	_ = json.Unmarshal(got[0].Value, &v)
	if v["after"] != 1.0 {
		t.Fatalf("published %s, want the event sent after enabling", got[0].Value)
	}
	if dlq := readAll(t, e.b, clicks+"-dlq", 1); len(dlq) != 1 || !json.Valid(dlq[0].Value) ||
		string(mustField(t, dlq[0].Value, "event")) != `"nope"` {
		t.Fatalf("DLQ records %v, want only the invalid event sent after enabling", dlq)
	}

	// Disabled again: the next events are stored, not published.
	e.enable(p.ID, false)
	e.produce(tenancy.RawTopic(p.ID, "", "clicks"), `{"after":2}`, `nope again`)
	e.waitCount(p.ID, "clicks", 3)
	if got := readAll(t, e.b, clicks, 1); len(got) != 1 {
		t.Fatalf("%d outbound records after disabling, want 1", len(got))
	}
	if got := readAll(t, e.b, clicks+"-dlq", 1); len(got) != 1 {
		t.Fatalf("%d DLQ records after disabling, want 1", len(got))
	}
}

// A collection that appears while outbound is enabled gets its topics as
// soon as its raw topic exists, before any event.
func TestNewCollectionWhileEnabledGetsItsTopics(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	e.enable(p.ID, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.b.EnsureTopic(ctx, tenancy.RawTopic(p.ID, "", "fresh"), 9, nil); err != nil {
		t.Fatal(err)
	}
	fresh := tenancy.BackendOutboundTopic(p.ID, "fresh")
	e.waitTopic(fresh)
	e.waitTopic(fresh + "-dlq")
	e.checkTopicSettings(fresh, fresh+"-dlq")
}

// A pipeline that dies after producing a batch, before committing it,
// leaves an open transaction; the next pipeline (a restart with the same
// transactional id, or another process taking over) processes the batch
// again, and a read_committed consumer sees every event exactly once, with
// the JSON the store holds (the first processing's keen.created_at).
func TestExactlyOnceAcrossACrashBeforeCommit(t *testing.T) {
	for _, c := range []struct {
		name     string
		sameTxID bool
	}{{"restart", true}, {"takeover", false}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.stop()
			p := e.project()
			e.enable(p.ID, true)
			var crashed atomic.Bool
			first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			e.start(func(cfg *pipeline.Config) {
				cfg.TransactionalID = "sluice.pipeline.test-a"
				cfg.TransactionTimeout = 3 * time.Second
				cfg.Now = func() time.Time { return first }
				pipeline.SetCrashBeforeCommit(cfg, func() bool { return crashed.CompareAndSwap(false, true) })
			})
			raw := tenancy.RawTopic(p.ID, "", "orders")
			e.produce(raw, append(events(300, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) }), "bad")...)
			out := tenancy.BackendOutboundTopic(p.ID, "orders")
			// The crashed batch is in the log, uncommitted.
			if n := len(readTopic(t, e.b, out, 1, kgo.ReadUncommitted())); n == 0 || !crashed.Load() {
				t.Fatalf("no uncommitted records after the crash (crashed: %v)", crashed.Load())
			}
			e.stop()

			id := "sluice.pipeline.test-a"
			if !c.sameTxID {
				id = "sluice.pipeline.test-b"
			}
			e.start(func(cfg *pipeline.Config) {
				cfg.TransactionalID = id
				cfg.Now = func() time.Time { return first.Add(time.Hour) }
			})
			if c.sameTxID {
				// Start fenced the predecessor before joining the group:
				// its transaction is no longer open (the last stable
				// offset has caught up with the end of the log).
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				ends, err := e.b.Admin().ListEndOffsets(ctx, out)
				if err != nil {
					t.Fatal(err)
				}
				stable, err := e.b.Admin().ListCommittedOffsets(ctx, out)
				if err != nil {
					t.Fatal(err)
				}
				ends.Each(func(o kadm.ListedOffset) {
					if s, _ := stable.Lookup(o.Topic, o.Partition); s.Offset != o.Offset {
						t.Errorf("partition %d: last stable offset %d, end %d: the crashed transaction is still open", o.Partition, s.Offset, o.Offset)
					}
				})
			}
			e.produce(raw, `{"n":300}`)
			e.waitCount(p.ID, "orders", 301)
			got := readAll(t, e.b, out, 301)
			if len(got) != 301 {
				t.Fatalf("read_committed consumer got %d records, want 301", len(got))
			}
			stored := e.storedByID(p.ID, "orders")
			seen := map[string]bool{}
			for _, r := range got {
				id := headers(r)[pipeline.HeaderID]
				if seen[id] || string(r.Value) != string(stored[id]) {
					t.Fatalf("record %s (seen before: %v): %s, stored %s", id, seen[id], r.Value, stored[id])
				}
				seen[id] = true
			}
			if dlq := readAll(t, e.b, out+"-dlq", 1); len(dlq) != 1 {
				t.Fatalf("%d DLQ records, want 1", len(dlq))
			}
			if all := readTopic(t, e.b, out, 302, kgo.ReadUncommitted()); len(all) <= 301 {
				t.Fatalf("read_uncommitted sees %d records: the crashed batch never reached the log", len(all))
			}
		})
	}
}

// failingStore fails its first Insert after storing the events, as a crash
// between the store and the commit would.
type failingStore struct {
	store.Store
	failed atomic.Bool
}

func (f *failingStore) Insert(ctx context.Context, evs []store.Event) (store.InsertResult, error) {
	res, err := f.Store.Insert(ctx, evs)
	if err == nil && f.failed.CompareAndSwap(false, true) {
		return res, errors.New("injected failure")
	}
	return res, err
}

func TestStoreFailureIsRetriedWithoutDuplicates(t *testing.T) {
	e := newEnv(t)
	e.stop()
	fs := &failingStore{Store: e.store}
	e.start(func(c *pipeline.Config) { c.Store = fs })
	p := e.project()
	e.enable(p.ID, true)
	e.produce(tenancy.RawTopic(p.ID, "", "signups"), events(100, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })...)
	e.waitCount(p.ID, "signups", 100)
	got := readAll(t, e.b, tenancy.BackendOutboundTopic(p.ID, "signups"), 100)
	if len(got) != 100 || !fs.failed.Load() {
		t.Fatalf("%d outbound records (failure injected: %v), want 100", len(got), fs.failed.Load())
	}
}

// Uniqueness tokens: the dropped duplicate is not published.
func TestDroppedDuplicatesAreNotPublished(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	e.enable(p.ID, true)
	raw := tenancy.RawTopic(p.ID, "", "payments")
	e.produceRecords(
		&kgo.Record{Topic: raw, Key: []byte("k"), Value: []byte(`{"n":1,"keen":{"uniqueness_token":"t"}}`)},
		&kgo.Record{Topic: raw, Key: []byte("k"), Value: []byte(`{"n":2,"keen":{"uniqueness_token":"t"}}`)},
		&kgo.Record{Topic: raw, Key: []byte("k"), Value: []byte(`{"n":3}`)},
	)
	e.waitCount(p.ID, "payments", 2)
	got := readAll(t, e.b, tenancy.BackendOutboundTopic(p.ID, "payments"), 2)
	stored := e.storedByID(p.ID, "payments")
	if len(got) != 2 {
		t.Fatalf("%d outbound records, want 2", len(got))
	}
	for _, r := range got {
		if s := stored[headers(r)[pipeline.HeaderID]]; s == nil || string(s) != string(r.Value) {
			t.Fatalf("published %s, not a stored event", r.Value)
		}
	}
}

func headers(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func mustField(t *testing.T, doc []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return m[name]
}

// rawIDs maps each payload of a raw topic to the keen.id of its record.
func rawIDs(t *testing.T, b *backend.Backend, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readTopic(t, b, topic, 1, kgo.ReadUncommitted()) {
		out[string(r.Value)] = event.ID(topic, r.Partition, r.Offset)
	}
	return out
}

func (e *env) enable(pid string, on bool) {
	e.t.Helper()
	if err := e.reg.SetStreams(context.Background(), pid, registry.Streams{OutboundEnabled: on}); err != nil {
		e.t.Fatal(err)
	}
}

// produceRecords writes records with Kafka's default partitioner (by key).
func (e *env) produceRecords(recs ...*kgo.Record) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, r := range recs {
		if err := e.b.EnsureTopic(ctx, r.Topic, 9, nil); err != nil {
			e.t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(e.b.Opts()...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// storedByID is the JSON the store holds for a collection, by keen.id.
func (e *env) storedByID(pid, collection string) map[string][]byte {
	e.t.Helper()
	docs, err := extract(e.store, context.Background(), store.Query{ProjectID: pid, Collection: collection})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, d := range docs {
		var v struct{ Keen struct{ ID string } }
		if err := json.Unmarshal(d, &v); err != nil {
			e.t.Fatal(err)
		}
		out[v.Keen.ID] = d
	}
	return out
}

// existing returns which of topics exist on the backend. It asks with a
// client of its own: kgo caches metadata answers (MetadataMinAge), and a
// cached "unknown topic" in the backend's shared client would slow down
// the pipeline's own topic creation.
func (e *env) existing(topics ...string) []string {
	e.t.Helper()
	cl, err := kgo.NewClient(e.b.Opts()...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), topics...)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, t := range topics {
		if d, ok := td[t]; ok && d.Err == nil {
			out = append(out, t)
		}
	}
	return out
}

func (e *env) waitTopic(topic string) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.existing(topic)) == 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("topic %s was not created", topic)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkTopicSettings checks the seed's partitions, retention and message size.
func (e *env) checkTopicSettings(topics ...string) {
	e.t.Helper()
	ctx := context.Background()
	td, err := e.b.Admin().ListTopics(ctx, topics...)
	if err != nil {
		e.t.Fatal(err)
	}
	cfgs, err := e.b.Admin().DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, topic := range topics {
		if n := len(td[topic].Partitions); n != 9 {
			e.t.Errorf("%s has %d partitions, want 9", topic, n)
		}
		rc, err := cfgs.On(topic, nil)
		if err != nil {
			e.t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
		if got["retention.ms"] != "345600000" || got["max.message.bytes"] != "1048588" {
			e.t.Errorf("%s: retention.ms %q, max.message.bytes %q", topic, got["retention.ms"], got["max.message.bytes"])
		}
	}
}

// metricValue reads a counter of reg for one project (0 if it has none).
func metricValue(t *testing.T, reg *prometheus.Registry, name, project string) float64 {
	return series(t, reg, name, "project", project).GetCounter().GetValue()
}

// series is the series of metric name whose label is value; nil if none.
func series(t *testing.T, reg *prometheus.Registry, name, label, value string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == name && l.GetName() == label && l.GetValue() == value {
					return m
				}
			}
		}
	}
	return nil
}

// Collections "a b" (HTTP only) and "a_b" share the outbound topic a_b, as
// the contract's sanitizing rule says; the header tells them apart.
func TestCollidingCollectionsShareTheirOutboundTopic(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	e.enable(p.ID, true)
	e.produce(tenancy.RawTopic(p.ID, "", "a b"), `{"from":"a b"}`)
	e.produce(tenancy.RawTopic(p.ID, "", "a_b"), `{"from":"a_b"}`, `broken`)
	e.waitCount(p.ID, "a b", 1)
	e.waitCount(p.ID, "a_b", 1)
	got := readAll(t, e.b, tenancy.BackendOutboundTopic(p.ID, "a_b"), 2)
	if len(got) != 2 {
		t.Fatalf("%d records on a_b, want 2", len(got))
	}
	for _, r := range got {
		var v struct{ From string }
		_ = json.Unmarshal(r.Value, &v)
		if h := headers(r)[pipeline.HeaderCollection]; h != v.From {
			t.Errorf("event of %q has collection header %q", v.From, h)
		}
	}
	if dlq := readAll(t, e.b, tenancy.BackendOutboundTopic(p.ID, "a_b-dlq"), 1); len(dlq) != 1 || headers(dlq[0])[pipeline.HeaderCollection] != "a_b" {
		t.Fatalf("DLQ records %v", dlq)
	}
}
