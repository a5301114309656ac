package httpapi_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/limits"
)

// TestCollectionsEndpoint: the Streams page's collection list, with names,
// sanitized topics and rates read from the backend's end offsets.
func TestCollectionsEndpoint(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	other := f.createProject("Q")

	// A second API on the same backend with a clock the test moves: rates
	// are offsets over time, whichever process wrote the events.
	var mu sync.Mutex
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	k, err := httpapi.NewKafka(f.b, limits.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	api := httpapi.New(httpapi.Config{Registry: f.reg, Offsets: k, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(api)
	defer srv.Close()
	second := &fixture{t: t, srv: srv}

	type flow struct {
		Total     int64    `json:"total"`
		PerSecond *float64 `json:"per_second"`
	}
	type doc struct {
		OutboundEnabled bool    `json:"outbound_enabled"`
		SampledSeconds  float64 `json:"sampled_seconds"`
		Collections     []struct {
			Name          string `json:"name"`
			OutboundTopic string `json:"outbound_topic"`
			DLQTopic      string `json:"dlq_topic"`
			In, Out, DLQ  flow
		} `json:"collections"`
	}
	path := "/3.0/projects/" + p.ID + "/streams/collections"
	var d doc
	if st := second.do("GET", path, p.APIKeys["master"], "", &d); st != 200 || len(d.Collections) != 0 || d.Collections == nil {
		t.Fatalf("no collections yet: %d %+v", st, d)
	}
	if st := second.do("GET", path, p.APIKeys["read"], "", nil); st != 401 {
		t.Fatalf("read key: %d, want 401", st)
	}

	write := p.APIKeys["write"]
	f.post(eventsPath(p.ID, "$my collection$ %"), write, `{"a":1}`, nil)
	f.post("/3.0/projects/"+p.ID+"/events", write, `{"purchases":[{"n":1},{"n":2}],"$my collection$ %":[{"a":2}]}`, nil)
	f.post(eventsPath(other.ID, "secret"), other.APIKeys["write"], `{"a":1}`, nil)
	advance(time.Second)
	if st := second.do("GET", path, p.APIKeys["master"], "", &d); st != 200 || len(d.Collections) != 2 || d.SampledSeconds != 1 {
		t.Fatalf("collections: %d %+v", st, d)
	}
	c := d.Collections[0]
	// 2 events in the second since the first sample.
	if c.Name != "$my collection$ %" || c.OutboundTopic != "_my_collection___" || c.DLQTopic != "_my_collection___-dlq" ||
		c.In.Total != 2 || c.In.PerSecond == nil || *c.In.PerSecond != 2 || c.Out.Total != 0 || c.DLQ.Total != 0 {
		t.Errorf("first collection: %+v", c)
	}

	f.post("/3.0/projects/"+p.ID+"/events", write, `{"purchases":[{"n":3},{"n":4},{"n":5},{"n":6}]}`, nil)
	advance(2 * time.Second)
	if st := second.do("GET", path, p.APIKeys["master"], "", &d); st != 200 || len(d.Collections) != 2 || d.SampledSeconds != 3 {
		t.Fatalf("collections: %d %+v", st, d)
	}
	c = d.Collections[1]
	// 6 events since the first sample (3 s ago, no topics yet), the oldest
	// in the window.
	if c.Name != "purchases" || c.OutboundTopic != "purchases" || c.In.Total != 6 || c.In.PerSecond == nil || *c.In.PerSecond != 2 {
		t.Errorf("purchases: %+v (rate %v)", c, c.In.PerSecond)
	}
}
