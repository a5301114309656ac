package dataset_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/dataset"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

const pid = "0123456789abcdef01234567"

// seeded is a store with 90 events over the last four days (at now):
// tenants "a", "b", the number 7 and true, users, prices, a plan and a
// tags array.
func seeded(t *testing.T) store.Store {
	t.Helper()
	m := storetest.NewModel()
	var evs []store.Event
	tenants := []string{`"a"`, `"b"`, `7`, `true`}
	for i := 0; i < 90; i++ {
		ts := now.Add(-time.Duration(i) * 61 * time.Minute)
		id := fmt.Sprintf("%024x", i+1)
		stamp := ts.Format("2006-01-02T15:04:05.000Z")
		body := fmt.Sprintf(`{"keen":{"timestamp":%q,"created_at":%q,"id":%q},"tenant":%s,"user":"u%d","price":%d,"plan":%q,"tags":["x","y%d"]}`,
			stamp, stamp, id, tenants[i%4], i%5, i*3%17, []string{"free", "pro"}[i%2], i%2)
		evs = append(evs, store.Event{ProjectID: pid, Collection: "c", ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(body)})
	}
	if _, err := m.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return m
}

// direct is the answer of req's query run directly.
func direct(t *testing.T, st store.Store, req *dataset.Request) string {
	t.Helper()
	q, err := req.Query(nil)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := query.Run(context.Background(), st, q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ans.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeptResultsEqualDirect: a dataset's results answered from what
// Compute kept are the answer of its query run directly with the index
// value's eq filters — for each analysis, grouped or not, every kind of
// index value, any timeframe on the dataset's intervals.
func TestKeptResultsEqualDirect(t *testing.T) {
	st := seeded(t)
	ctx := context.Background()
	cases := []struct {
		name, query string
		indexBy     []string
		indexes     []string
	}{
		{"count", `"analysis_type":"count","interval":"daily"`, []string{"tenant"}, []string{"a", "7", "true", `"7"`, "nobody"}},
		{"count by plan, zero-filled", `"analysis_type":"count","interval":"daily","group_by":"plan"`, []string{"tenant"}, []string{"a", "b"}},
		{"ordered and limited groups", `"analysis_type":"count","interval":"daily","group_by":"price","order_by":{"property_name":"result","direction":"DESC"},"limit":2`, []string{"tenant"}, []string{"a"}},
		{"sum hourly in a timezone", `"analysis_type":"sum","target_property":"price","interval":"every_6_hours","timezone":"Europe/Paris"`, []string{"tenant"}, []string{"b"}},
		{"count_unique", `"analysis_type":"count_unique","target_property":"user","interval":"daily"`, []string{"plan"}, []string{"pro", "free"}},
		{"median", `"analysis_type":"median","target_property":"price","interval":"daily"`, []string{"tenant"}, []string{"a", "nobody"}},
		{"select_unique", `"analysis_type":"select_unique","target_property":"user","interval":"daily"`, []string{"tenant"}, []string{"b"}},
		{"multi_analysis", `"analysis_type":"multi_analysis","analyses":{"n":{"analysis_type":"count"},"top":{"analysis_type":"maximum","target_property":"price"}},"interval":"daily"`, []string{"tenant"}, []string{"a", "nobody"}},
		{"two index properties", `"analysis_type":"count","interval":"daily"`, []string{"tenant", "plan"}, []string{`{"tenant":"a","plan":"free"}`, `{"plan":"pro","tenant":7}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := registry.Dataset{ProjectID: pid, Name: "d", IndexBy: c.indexBy, Version: "v1",
				Query: json.RawMessage(`{"event_collection":"c","timeframe":"this_4_days",` + c.query + `}`)}
			kept, err := dataset.Compute(ctx, st, d, now)
			if err != nil {
				t.Fatal(err)
			}
			run := registry.DatasetRun{ProjectID: pid, Name: "d", Version: "v1", RunAt: now, Status: 200, Buckets: kept.Buckets}
			for _, index := range c.indexes {
				for _, tf := range []string{"this_4_days", "this_2_days", "previous_1_days", "this_10_days"} {
					req, err := dataset.ParseRequest(d, url.Values{"index_by": {index}, "timeframe": {tf}}, now)
					if err != nil {
						t.Fatal(err)
					}
					var res *registry.DatasetResult
					if rows, ok := kept.Rows[req.Key]; ok {
						res = &registry.DatasetResult{Rows: rows}
					}
					got, ok, err := req.Answer(run, res)
					if err != nil || !ok {
						t.Fatalf("%s over %s: kept answer %v, %v", index, tf, ok, err)
					}
					if want := direct(t, st, req); string(got) != want {
						t.Fatalf("%s over %s:\nkept   %s\ndirect %s", index, tf, got, want)
					}
				}
			}
		})
	}
}

func TestKeptResultsLimits(t *testing.T) {
	st := seeded(t)
	ctx := context.Background()
	d := registry.Dataset{ProjectID: pid, Name: "d", IndexBy: []string{"tenant"}, Version: "v1",
		Query: json.RawMessage(`{"event_collection":"c","timeframe":"this_4_days","analysis_type":"count","interval":"daily"}`)}
	kept, err := dataset.Compute(ctx, st, d, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept.Rows) != 4 {
		t.Fatalf("%d index values kept, want 4", len(kept.Rows))
	}
	run := registry.DatasetRun{Status: 200, Buckets: kept.Buckets}
	// Intervals the run did not compute: not answered from it.
	for _, tf := range []string{`{"start":"2026-12-05T06:00:00Z","end":"2026-12-06T06:00:00Z"}`} {
		req, err := dataset.ParseRequest(d, url.Values{"index_by": {"a"}, "timeframe": {tf}}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := req.Answer(run, nil); ok || err != nil {
			t.Fatalf("%s: answered from intervals it does not align with (%v)", tf, err)
		}
	}
	later, err := dataset.ParseRequest(d, url.Values{"index_by": {"a"}, "timeframe": {"this_day"}}, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := later.Answer(run, nil); ok {
		t.Fatal("a day the run did not reach was answered from it")
	}
	// Rows of a later computation, whose timeframe has moved a day, read
	// with the earlier run (between the writes of a refresh): each row
	// still lands in its own interval.
	next, err := dataset.Compute(ctx, st, d, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req, err := dataset.ParseRequest(d, url.Values{"index_by": {"a"}, "timeframe": {"this_3_days"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := req.Answer(run, &registry.DatasetResult{Rows: next.Rows[`["a"]`]})
	if err != nil || !ok {
		t.Fatalf("answer: %v %v", ok, err)
	}
	if want := direct(t, st, req); string(got) != want {
		t.Fatalf("a later computation's rows with the earlier run:\n got %s\nwant %s", got, want)
	}

	// An index_by property holding arrays of strings cannot be kept.
	d.IndexBy = []string{"tags"}
	_, err = dataset.Compute(ctx, st, d, now)
	var qe *query.Error
	if !errors.As(err, &qe) || qe.Name != "InvalidRequestError" {
		t.Fatalf("arrays of strings: %v", err)
	}
}
