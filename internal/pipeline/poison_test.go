package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// poisonEnv is a pipeline with metrics, a log that is kept, and a store
// that can be made to fail or refuse chosen events; two projects with
// Kafka Outbound enabled: a, which gets the poison, and b.
type poisonEnv struct {
	*env
	st           *trickStore
	logs         *logLines
	projA, projB registry.Project
}

func newPoisonEnv(t *testing.T) *poisonEnv {
	e := newEnv(t)
	e.stop()
	pe := &poisonEnv{env: e, st: &trickStore{Store: e.store}, logs: &logLines{}}
	metrics := pipeline.NewMetrics(e.metrics)
	e.start(func(c *pipeline.Config) {
		c.Store, c.Metrics = pe.st, metrics
		c.Logger = slog.New(pe.logs)
	})
	pe.projA, pe.projB = e.project(), e.project()
	e.enable(pe.projA.ID, true)
	e.enable(pe.projB.ID, true)
	return pe
}

// checkFlow checks that, after a poison, the same project's next valid
// event and another project's event are stored and streamed within 10 s.
func (pe *poisonEnv) checkFlow(collection string) {
	pe.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	pe.produce(tenancy.RawTopic(pe.projA.ID, "", collection), `{"after":"the poison"}`)
	pe.produce(tenancy.RawTopic(pe.projB.ID, "", "other"), `{"from":"b"}`)
	pe.waitStreamed(pe.projA.ID, collection, `"after":"the poison"`, deadline)
	pe.waitStreamed(pe.projB.ID, "other", `"from":"b"`, deadline)
}

// waitStreamed waits until an event holding s is stored in the collection
// and its record is on the outbound topic, read_committed.
func (pe *poisonEnv) waitStreamed(pid, collection, s string, deadline time.Time) {
	pe.t.Helper()
	for !pe.storedWith(pid, collection, s) {
		if time.Now().After(deadline) {
			pe.t.Fatalf("%s/%s: no event holding %s stored in time", pid, collection, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs := pe.read(tenancy.BackendOutboundTopic(pid, collection), deadline, func(r *kgo.Record) bool {
		return bytes.Contains(r.Value, []byte(s))
	})
	if len(recs) == 0 {
		pe.t.Fatalf("%s/%s: no event holding %s streamed in time", pid, collection, s)
	}
}

func (pe *poisonEnv) storedWith(pid, collection, s string) bool {
	docs, err := extract(pe.store, context.Background(), store.Query{ProjectID: pid, Collection: collection})
	if err != nil {
		pe.t.Fatal(err)
	}
	for _, d := range docs {
		if bytes.Contains(d, []byte(s)) {
			return true
		}
	}
	return false
}

// read reads a topic read_committed until until says a record is the one
// awaited, or the deadline; it returns every record read.
func (pe *poisonEnv) read(topic string, deadline time.Time, until func(*kgo.Record) bool) []*kgo.Record {
	pe.t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cl, err := kgo.NewClient(pe.b.Opts(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxBytes(16<<20))...)
	if err != nil {
		pe.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for ctx.Err() == nil {
		for _, r := range cl.PollFetches(ctx).Records() {
			out = append(out, r)
			if until(r) {
				return out
			}
		}
	}
	return nil
}

// readN reads the values of a topic's first n records (read_committed),
// and any more that show within a moment.
func (pe *poisonEnv) readN(topic string, n int) []string {
	pe.t.Helper()
	var out []string
	pe.read(topic, time.Now().Add(10*time.Second), func(r *kgo.Record) bool {
		out = append(out, string(r.Value))
		return len(out) == n
	})
	if len(out) == n {
		seen := 0
		pe.read(topic, time.Now().Add(500*time.Millisecond), func(r *kgo.Record) bool {
			if seen++; seen > n {
				out = append(out, string(r.Value))
			}
			return false
		})
	}
	return out
}

// metric reads a counter of the pipeline by its labels.
func (pe *poisonEnv) metric(name string, labels map[string]string) float64 {
	pe.t.Helper()
	mfs, err := pe.metrics.Gather()
	if err != nil {
		pe.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// waitMetric waits for a counter to reach want (metrics are counted once
// their batch commits).
func (pe *poisonEnv) waitMetric(name string, labels map[string]string, want float64) {
	pe.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for pe.metric(name, labels) != want {
		if time.Now().After(deadline) {
			pe.t.Fatalf("%s%v = %v, want %v", name, labels, pe.metric(name, labels), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// trickStore wraps a store: Insert fails while down, fails on a batch
// holding an event fail names, and refuses the events refuse names.
type trickStore struct {
	store.Store
	down    atomic.Bool
	fail    func(store.Event) error
	refuse  func(store.Event) *store.Outcome // a Refused outcome, or nil
	inserts atomic.Int64
}

func (s *trickStore) Insert(ctx context.Context, evs []store.Event) (store.InsertResult, error) {
	s.inserts.Add(1)
	if s.down.Load() {
		return store.InsertResult{}, errors.New("injected: the store does not answer")
	}
	for _, ev := range evs {
		if s.fail != nil {
			if err := s.fail(ev); err != nil {
				return store.InsertResult{}, err
			}
		}
	}
	if s.refuse == nil {
		return s.Store.Insert(ctx, evs)
	}
	var keep []store.Event
	var keptAt []int
	out := make([]store.Outcome, len(evs))
	for i, ev := range evs {
		if r := s.refuse(ev); r != nil {
			out[i] = *r
			continue
		}
		keep = append(keep, ev)
		keptAt = append(keptAt, i)
	}
	if len(keep) > 0 {
		res, err := s.Store.Insert(ctx, keep)
		if err != nil {
			return res, err
		}
		for j, o := range res.Outcomes {
			out[keptAt[j]] = o
		}
	}
	return store.InsertResult{Outcomes: out}, nil
}

// logLines keeps the messages logged.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// dlqValue is a DLQ record's value.
type dlqValue struct {
	Event          string `json:"event"`
	Error          string `json:"error"`
	EventBase64    string `json:"event_base64"`
	EventTruncated bool   `json:"event_truncated"`
	EventBytes     int    `json:"event_bytes"`
}

// readDLQ reads a collection's DLQ until it holds n records.
func (pe *poisonEnv) readDLQ(pid, collection string, n int) []dlqValue {
	pe.t.Helper()
	var got []dlqValue
	pe.read(tenancy.BackendOutboundTopic(pid, collection+"-dlq"), time.Now().Add(20*time.Second), func(r *kgo.Record) bool {
		if recordSize(r) > limits.MaxMessageBytes {
			pe.t.Errorf("DLQ record of %d bytes", recordSize(r))
		}
		var v dlqValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			pe.t.Fatalf("DLQ value: %v", err)
		}
		got = append(got, v)
		return len(got) == n
	})
	if len(got) != n {
		pe.t.Fatalf("%d DLQ records, want %d", len(got), n)
	}
	return got
}

func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value) + 128
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// Invalid events whose dead letters would not fit max.message.bytes (JSON
// escaping makes `<` 6 bytes; a raw record may be up to 1 MB, and a
// compressed batch may hold a larger one) get a truncated dead letter that
// says so, and stall nothing.
func TestOversizedDeadLettersAreTruncated(t *testing.T) {
	pe := newPoisonEnv(t)
	raw := tenancy.RawTopic(pe.projA.ID, "", "pages")
	lt := strings.Repeat("<", 180_000)
	big := `{"a":"` + strings.Repeat("a", 1_048_400-8) + `"}` // valid JSON, over the event limit
	huge := strings.Repeat("<", 5_000_029)
	pe.produce(raw, lt)
	// The other two in gzip batches: the last one is 5,000,029 bytes once
	// decompressed.
	cl, err := kgo.NewClient(pe.b.Opts(kgo.ProducerBatchCompression(kgo.GzipCompression()), kgo.ProducerBatchMaxBytes(16<<20), kgo.MaxBufferedBytes(32<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range []string{big, huge} {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: raw, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pe.checkFlow("pages")

	want := map[int]bool{len(lt): true, len(big): true, len(huge): true}
	for _, v := range pe.readDLQ(pe.projA.ID, "pages", 3) {
		if !v.EventTruncated || !want[v.EventBytes] || !strings.HasPrefix(v.Error, "InvalidEventError") {
			t.Errorf("DLQ record: truncated %v, event_bytes %d, error %q", v.EventTruncated, v.EventBytes, v.Error)
		}
		delete(want, v.EventBytes)
	}
	if pe.metric("sluice_pipeline_dlq_records_total", map[string]string{"project": pe.projA.ID, "result": "written"}) != 3 {
		t.Error("DLQ records not counted")
	}
}

// An event enriched past max.message.bytes (here by its access key's
// autofill) is stored, not streamed, counted, and stalls nothing.
func TestEventEnrichedPastTheLimitIsStoredNotStreamed(t *testing.T) {
	pe := newPoisonEnv(t)
	k, err := pe.reg.CreateAccessKey(context.Background(), pe.projA.ID, registry.AccessKey{Name: "fat", IsActive: true,
		Permitted: []string{registry.PermWrites}, Options: registry.Options{Writes: &registry.WritesOptions{
			Autofill: map[string]any{"fill": strings.Repeat("f", 200_000)}}}})
	if err != nil {
		t.Fatal(err)
	}
	ev := `{"big":"` + strings.Repeat("b", 890_000) + `"}`
	pe.produce(tenancy.RawTopic(pe.projA.ID, tenancy.KeyID(k.Key), "pages"), ev)
	pe.checkFlow("pages")
	if !pe.storedWith(pe.projA.ID, "pages", `"big":"bbb`) {
		t.Fatal("the enriched event is not stored")
	}
	pe.waitMetric("sluice_pipeline_outbound_skipped_total", map[string]string{"project": pe.projA.ID, "reason": "too_large"}, 1)
}

// Records the backend refuses (here: topics whose max.message.bytes is
// smaller than sluice's) are isolated: a refused stream record leaves its
// event stored, not streamed; a refused DLQ record is dropped; both are
// counted, and their neighbours in the same produce go through.
func TestRecordsTheBackendRefusesAreIsolated(t *testing.T) {
	pe := newPoisonEnv(t)
	ctx := context.Background()
	stream := tenancy.BackendOutboundTopic(pe.projA.ID, "narrow")
	small := func(n string) *string { return &n }
	if err := pe.b.EnsureTopic(ctx, stream, 9, map[string]*string{"max.message.bytes": small("2000")}); err != nil {
		t.Fatal(err)
	}
	if err := pe.b.EnsureTopic(ctx, stream+"-dlq", 9, map[string]*string{"max.message.bytes": small("400")}); err != nil {
		t.Fatal(err)
	}
	raw := tenancy.RawTopic(pe.projA.ID, "", "narrow")
	key := []byte("same partition, same produce")
	pe.produceRecords(
		&kgo.Record{Topic: raw, Key: key, Value: []byte(`{"small":1}`)},
		&kgo.Record{Topic: raw, Key: key, Value: []byte(`{"pad":"` + strings.Repeat("p", 3000) + `"}`)},
		&kgo.Record{Topic: raw, Key: key, Value: []byte(`{"small":2}`)},
		&kgo.Record{Topic: raw, Key: key, Value: []byte(`not json ` + strings.Repeat("n", 600))},
	)
	pe.checkFlow("narrow")
	for _, s := range []string{`"small":1`, `"small":2`, `"pad":"ppp`} {
		if !pe.storedWith(pe.projA.ID, "narrow", s) {
			t.Errorf("%s not stored", s)
		}
	}
	streamed := pe.readN(stream, 3)
	var smalls []string
	for _, s := range streamed {
		if strings.Contains(s, `"small"`) {
			smalls = append(smalls, s)
		}
	}
	if len(streamed) != 3 || len(smalls) != 2 || !strings.Contains(smalls[0], `"small":1`) || !strings.Contains(smalls[1], `"small":2`) {
		t.Fatalf("streamed %d records, want small 1, small 2 (in order) and the next event", len(streamed))
	}
	pe.waitMetric("sluice_pipeline_outbound_skipped_total", map[string]string{"project": pe.projA.ID, "reason": "message_too_large"}, 1)
	pe.waitMetric("sluice_pipeline_dlq_dropped_total", map[string]string{"project": pe.projA.ID, "reason": "message_too_large"}, 1)
	if n := pe.logs.count("the backend refuses a record"); n != 2 {
		t.Errorf("%d log lines for the 2 refused records", n)
	}
}

// An event the store fails on (while it takes others) is found by
// bisecting its project's events after a few attempts: it becomes a dead
// letter with the store's error, counted as invalid; the rest is stored
// and streamed.
func TestAnEventTheStoreFailsOnBecomesADeadLetter(t *testing.T) {
	pe := newPoisonEnv(t)
	pe.st.fail = func(ev store.Event) error {
		if bytes.Contains(ev.JSON, []byte("store-poison")) {
			return errors.New("injected: a value the store cannot take")
		}
		return nil
	}
	raw := tenancy.RawTopic(pe.projA.ID, "", "orders")
	vals := events(20, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })
	vals[7] = `{"n":7,"store-poison":true}`
	pe.produce(raw, vals...)
	pe.checkFlow("orders")
	pe.waitCount(pe.projA.ID, "orders", 20) // 19 + the next event
	dlq := pe.readDLQ(pe.projA.ID, "orders", 1)
	if dlq[0].Event != vals[7] || !strings.HasPrefix(dlq[0].Error, pipeline.ErrStore+": ") || !strings.Contains(dlq[0].Error, "a value the store cannot take") {
		t.Fatalf("dead letter %+v", dlq[0])
	}
	pe.waitMetric("sluice_pipeline_invalid_events_total", map[string]string{"project": pe.projA.ID, "error": pipeline.ErrStore}, 1)
	if n := pe.logs.count("the store fails on an event"); n != 1 {
		t.Errorf("the poison was logged %d times, want once", n)
	}
}

// A store that fails every Insert is down: the batch is retried with
// backoff (no hot loop), health says so, it is logged once, and no event
// is blamed; once the store is back everything flows.
func TestAStoreThatIsDownIsRetriedWithBackoff(t *testing.T) {
	pe := newPoisonEnv(t)
	pe.st.down.Store(true)
	pe.produce(tenancy.RawTopic(pe.projA.ID, "", "orders"), events(10, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })...)
	deadline := time.Now().Add(20 * time.Second)
	for h := pe.pipe.Health(); h.Failures < 3; h = pe.pipe.Health() {
		if time.Now().After(deadline) {
			t.Fatalf("health %+v", h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	h := pe.pipe.Health()
	if !h.Retrying || !strings.Contains(h.LastError, "injected: the store does not answer") || h.Since.IsZero() || !h.LastCommit.IsZero() {
		t.Fatalf("health %+v", h)
	}
	// Attempts 1..3 come 1 s and 2 s apart; attempt 3 bisects (within a
	// bounded number of Inserts).
	time.Sleep(time.Second)
	if n := pe.st.inserts.Load(); n > 3+limits.PipelineBisectInserts+5 {
		t.Fatalf("%d Inserts tried in about 4 s: a hot loop", n)
	}
	if n := pe.logs.count("processing a batch failed"); n != 1 {
		t.Errorf("the failing batch was logged %d times, want once", n)
	}
	pe.st.down.Store(false)
	pe.checkFlow("orders")
	pe.waitCount(pe.projA.ID, "orders", 11)
	if h := pe.pipe.Health(); h.Retrying || h.Failures != 0 || h.LastError != "" || h.LastCommit.IsZero() {
		t.Fatalf("health after recovery %+v", h)
	}
	if n := pe.metric("sluice_pipeline_invalid_events_total", map[string]string{"project": pe.projA.ID}); n != 0 {
		t.Fatalf("%v events blamed for a store that was down", n)
	}
}

// Events the store refuses (store.Refused outcomes) become dead letters with
// the store's error, are counted as invalid under its name, and are not
// streamed.
func TestEventsTheStoreRefusesBecomeDeadLetters(t *testing.T) {
	pe := newPoisonEnv(t)
	pe.st.refuse = func(ev store.Event) *store.Outcome {
		if bytes.Contains(ev.JSON, []byte("too-many-properties")) {
			return &store.Outcome{Status: store.Refused, Name: "PropertyLimitError", Message: "the collection would have 1001 properties; at most 1000"}
		}
		return nil
	}
	raw := tenancy.RawTopic(pe.projA.ID, "", "things")
	pe.produceRecords(
		&kgo.Record{Topic: raw, Key: []byte("k"), Value: []byte(`{"n":1}`)},
		&kgo.Record{Topic: raw, Key: []byte("k"), Value: []byte(`{"n":2,"too-many-properties":true}`)},
		&kgo.Record{Topic: raw, Key: []byte("k"), Value: []byte(`{"n":3}`)},
	)
	pe.checkFlow("things")
	pe.waitCount(pe.projA.ID, "things", 3)
	dlq := pe.readDLQ(pe.projA.ID, "things", 1)
	if dlq[0].Event != `{"n":2,"too-many-properties":true}` || dlq[0].Error != "PropertyLimitError: the collection would have 1001 properties; at most 1000" {
		t.Fatalf("dead letter %+v", dlq[0])
	}
	streamed := pe.readN(tenancy.BackendOutboundTopic(pe.projA.ID, "things"), 3)
	for _, s := range streamed {
		if strings.Contains(s, "too-many-properties") {
			t.Fatal("a refused event was streamed")
		}
	}
	if len(streamed) != 3 {
		t.Fatalf("%d records streamed, want 3", len(streamed))
	}
	pe.waitMetric("sluice_pipeline_invalid_events_total", map[string]string{"project": pe.projA.ID, "error": "PropertyLimitError"}, 1)
}
