package pipeline_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/registry/registrytest"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/duckdb"
	"github.com/sluice-io/sluice/internal/tenancy"
)

type env struct {
	t       *testing.T
	b       *backend.Backend
	reg     *registry.Registry
	store   store.Store
	proc    *event.Processor
	pipe    *pipeline.Pipeline
	metrics *prometheus.Registry
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T) *env {
	t.Helper()
	log, err := embedded.Start(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	b := registrytest.Connect(t, log.Addrs())
	st, err := duckdb.Open(t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	proc, err := event.NewProcessor(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, b: b, reg: registrytest.Open(t, b), store: st, proc: proc, metrics: prometheus.NewRegistry()}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start starts a pipeline; mods adjust its configuration.
func (e *env) start(mods ...func(*pipeline.Config)) {
	e.pipe = e.startPipeline(mods...)
}

func (e *env) startPipeline(mods ...func(*pipeline.Config)) *pipeline.Pipeline {
	e.t.Helper()
	if e.metrics == nil {
		e.metrics = prometheus.NewRegistry()
	}
	cfg := pipeline.Config{Backend: e.b, Registry: e.reg, Store: e.store, Processor: e.proc, Logger: quiet()}
	for _, m := range mods {
		m(&cfg)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = pipeline.NewMetrics(nil)
	}
	p, err := pipeline.Start(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) stop() {
	if e.pipe != nil {
		e.pipe.Close()
		e.pipe = nil
	}
}

// produce writes raw values to a raw topic, as the Inbound listener would.
func (e *env) produce(topic string, values ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.b.EnsureTopic(ctx, topic, 9, nil); err != nil {
		e.t.Fatal(err)
	}
	cl, err := kgo.NewClient(e.b.Opts(kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// waitCount waits until the collection holds want events (and stays there
// for a moment, so extra events would show).
func (e *env) waitCount(pid, collection string, want int64) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var n int64
	for time.Now().Before(deadline) {
		var err error
		n, err = count(e.store, context.Background(), store.Query{ProjectID: pid, Collection: collection})
		if err != nil {
			e.t.Fatal(err)
		}
		if n == want {
			time.Sleep(300 * time.Millisecond)
			if n2, _ := count(e.store, context.Background(), store.Query{ProjectID: pid, Collection: collection}); n2 == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("%s/%s holds %d events, want %d", pid, collection, n, want)
}

func (e *env) project() registry.Project {
	e.t.Helper()
	p, err := e.reg.CreateProject(context.Background(), "org", "P")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func events(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestStoresEveryEventExactlyOnce(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	raw := tenancy.RawTopic(p.ID, "", "purchases")
	e.produce(raw, events(300, func(i int) string { return fmt.Sprintf(`{"n":%d,"price":%d.5}`, i, i) })...)
	e.waitCount(p.ID, "purchases", 300)

	got, err := extract(e.store, context.Background(), store.Query{ProjectID: p.ID, Collection: "purchases",
		Filters: []store.Filter{{Path: []string{"n"}, Operator: "eq", Value: json.Number("7")}}})
	if err != nil || len(got) != 1 {
		t.Fatalf("extraction: %v %v", got, err)
	}
	var ev struct {
		Keen struct {
			ID        string `json:"id"`
			Timestamp string `json:"timestamp"`
			CreatedAt string `json:"created_at"`
		} `json:"keen"`
		N int `json:"n"`
	}
	if err := json.Unmarshal(got[0], &ev); err != nil || ev.N != 7 || len(ev.Keen.ID) != 24 ||
		!strings.HasSuffix(ev.Keen.Timestamp, "Z") || ev.Keen.CreatedAt == "" {
		t.Fatalf("stored event %s (%v)", got[0], err)
	}

	// Re-processing everything from the start (as after a crash before the
	// commit) stores nothing twice.
	e.stop()
	adm := kadm.NewClient(e.b.Client())
	offsets := kadm.Offsets{}
	for part := int32(0); part < 9; part++ {
		offsets.Add(kadm.Offset{Topic: raw, Partition: part, At: 0, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(context.Background(), pipeline.Group, offsets); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.produce(raw, `{"n":300}`)
	e.waitCount(p.ID, "purchases", 301)
}

func TestInvalidEventsGoToTheDLQWhileOutboundIsEnabled(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	if err := e.reg.SetStreams(context.Background(), p.ID, registry.Streams{OutboundEnabled: true}); err != nil {
		t.Fatal(err)
	}
	invalid := []string{`not json`, `[1,2]`, `{"a.b":1}`, `{"keen":{"id":1,"bogus":true}}`, "\xff\xfe{"}
	e.produce(tenancy.RawTopic(p.ID, "", "orders"), append([]string{`{"ok":1}`}, invalid...)...)
	e.waitCount(p.ID, "orders", 1)

	dlq := tenancy.BackendOutboundTopic(p.ID, "orders-dlq")
	recs := readAll(t, e.b, dlq, len(invalid))
	ids := rawIDs(t, e.b, tenancy.RawTopic(p.ID, "", "orders"))
	seen := map[string]bool{}
	for _, r := range recs {
		var v map[string]string
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("DLQ value %q is not JSON: %v", r.Value, err)
		}
		if v["error"] == "" || (v["event"] == "" && v["event_base64"] == "") {
			t.Fatalf("DLQ value %v lacks event or error", v)
		}
		seen[v["event"]] = true
		if v["event_base64"] != "" && v["event"] != strings.ToValidUTF8("\xff\xfe{", "\uFFFD") {
			t.Fatalf("non-UTF-8 payload recorded as %q", v["event"])
		}
		payload := v["event"]
		if v["event_base64"] != "" {
			b, err := base64.StdEncoding.DecodeString(v["event_base64"])
			if err != nil {
				t.Fatalf("event_base64 %q: %v", v["event_base64"], err)
			}
			payload = string(b)
		}
		h := headers(r)
		if len(r.Headers) != 2 || h[pipeline.HeaderCollection] != "orders" || h[pipeline.HeaderID] != ids[payload] {
			t.Fatalf("DLQ record of %q: headers %v, want keen.id %s", payload, r.Headers, ids[payload])
		}
	}
	for _, inv := range invalid[:4] {
		if !seen[inv] {
			t.Errorf("no DLQ record for %q", inv)
		}
	}

	// Outbound disabled: invalid events are counted, not written.
	if err := e.reg.SetStreams(context.Background(), p.ID, registry.Streams{OutboundEnabled: false}); err != nil {
		t.Fatal(err)
	}
	e.produce(tenancy.RawTopic(p.ID, "", "orders"), `{"ok":2}`, `nope`)
	e.waitCount(p.ID, "orders", 2)
	if got := readAll(t, e.b, dlq, len(invalid)); len(got) != len(invalid) {
		t.Fatalf("DLQ grew to %d records while outbound was disabled", len(got))
	}
}

func TestAutofillAndUniquenessTokens(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	k, err := e.reg.CreateAccessKey(context.Background(), p.ID, registry.AccessKey{Name: "tenant", IsActive: true,
		Permitted: []string{registry.PermWrites}, Options: registry.Options{Writes: &registry.WritesOptions{Autofill: map[string]any{"tenant": map[string]any{"id": "t1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.produce(tenancy.RawTopic(p.ID, tenancy.KeyID(k.Key), "signups"), `{"user":"a","tenant":{"id":"forged","plan":"x"}}`)
	e.produce(tenancy.RawTopic(p.ID, "", "signups"),
		`{"user":"b","keen":{"uniqueness_token":"tok"}}`, `{"user":"c","keen":{"uniqueness_token":"tok"}}`)
	e.waitCount(p.ID, "signups", 2)
	n, err := count(e.store, context.Background(), store.Query{ProjectID: p.ID, Collection: "signups",
		Filters: []store.Filter{{Path: []string{"tenant", "id"}, Operator: "eq", Value: "t1"}, {Path: []string{"tenant", "plan"}, Operator: "eq", Value: "x"}}})
	if err != nil || n != 1 {
		t.Fatalf("autofilled events: %d %v", n, err)
	}
}

// readAll reads at least want records of a backend topic as the Outbound
// listener does (read_committed).
func readAll(t *testing.T, b *backend.Backend, topic string, want int) []*kgo.Record {
	t.Helper()
	return readTopic(t, b, topic, want, kgo.ReadCommitted())
}

// readTopic reads at least want records of a backend topic.
func readTopic(t *testing.T, b *backend.Backend, topic string, want int, iso kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(b.Opts(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d records, want %d", topic, len(out), want)
		}
		out = append(out, fs.Records()...)
	}
	// Anything beyond want shows up within a short grace period.
	short, c2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer c2()
	out = append(out, cl.PollFetches(short).Records()...)
	return out
}

// A stopped pipeline leaves the group (its membership is static, and a
// static member's client would not), so the other processes take its
// partitions at once.
func TestCloseLeavesTheGroup(t *testing.T) {
	e := newEnv(t)
	p := e.project()
	e.produce(tenancy.RawTopic(p.ID, "", "clicks"), `{"a":1}`)
	e.waitCount(p.ID, "clicks", 1)
	members := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		groups, err := e.b.Admin().DescribeGroups(ctx, pipeline.Group)
		if err != nil {
			t.Fatal(err)
		}
		return len(groups[pipeline.Group].Members)
	}
	if n := members(); n != 1 {
		t.Fatalf("%d members while running, want 1", n)
	}
	e.stop()
	if n := members(); n != 0 {
		t.Fatalf("%d members after Close, want 0", n)
	}
}

// count runs q as a count.
func count(st store.Store, ctx context.Context, q store.Query) (int64, error) {
	q.Analysis = store.Count
	res, err := st.Run(ctx, q)
	if err != nil {
		return 0, err
	}
	return res.Rows[0].Value.(int64), nil
}

// extract runs q as an extraction.
func extract(st store.Store, ctx context.Context, q store.Query) ([]json.RawMessage, error) {
	q.Analysis = store.Extraction
	res, err := st.Run(ctx, q)
	return res.Events, err
}

// A collection this process creates is consumed at once: with periodic
// metadata refreshes an hour apart, only the refresh its creation asks
// for (Backend.WatchNewRawTopics) lets the pipeline find the new topic.
func TestANewCollectionIsConsumedWithoutWaitingForAMetadataRefresh(t *testing.T) {
	e := newEnv(t)
	e.stop()
	p := e.project()
	// A collection that exists before the pipeline starts: once its
	// events are stored, the pipeline has joined its group and polls.
	e.produce(tenancy.RawTopic(p.ID, "", "visits"), `{"n":1}`)
	e.start(func(c *pipeline.Config) { pipeline.SetMetadataMaxAge(c, time.Hour) })
	e.waitCount(p.ID, "visits", 1)

	raw := tenancy.RawTopic(p.ID, "", "signups")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.b.NewRawTopics(0).Ensure(ctx, raw); err != nil {
		t.Fatal(err)
	}
	e.produce(raw, events(5, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })...)
	e.waitCount(p.ID, "signups", 5)
}
