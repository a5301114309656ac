package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

var queryNow = time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)

// seed stores n purchases, one per hour back from queryNow, alternating
// tenants a and b, with price = i.
func (f *fixture) seed(pid string, n int) {
	f.t.Helper()
	var evs []store.Event
	for i := 0; i < n; i++ {
		ts := queryNow.Add(-time.Duration(i+1) * time.Hour)
		id := fmt.Sprintf("%024x", i+1)
		tenant := []string{"a", "b"}[i%2]
		body := fmt.Sprintf(`{"keen":{"timestamp":%q,"created_at":%q,"id":%q},"tenant":%q,"price":%d}`,
			ts.Format("2006-01-02T15:04:05.000Z"), ts.Format("2006-01-02T15:04:05.000Z"), id, tenant, i)
		evs = append(evs, store.Event{ProjectID: pid, Collection: "purchases", ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(body)})
	}
	if _, err := f.store.Insert(context.Background(), evs); err != nil {
		f.t.Fatal(err)
	}
}

func TestQueries(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	f.seed(p.ID, 48)
	base := "/3.0/projects/" + p.ID + "/queries/"
	var filtered registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", p.APIKeys["master"], `{"name":"a only","permitted":["queries"],
		"options":{"queries":{"filters":[{"property_name":"tenant","operator":"eq","property_value":"a"}]}}}`, &filtered)

	type result struct {
		Result json.RawMessage `json:"result"`
	}
	count := func(key, method, body, query string) (int, string) {
		var r result
		st := f.do(method, base+"count"+query, key, body, &r)
		return st, string(r.Result)
	}
	cases := []struct {
		name, key, method, body, query string
		want                           string
	}{
		{"all", p.APIKeys["read"], "POST", `{"event_collection":"purchases"}`, "", "48"},
		{"master key", p.APIKeys["master"], "POST", `{"event_collection":"purchases"}`, "", "48"},
		{"filter", p.APIKeys["read"], "POST", `{"event_collection":"purchases","filters":[{"property_name":"price","operator":"gte","property_value":40}]}`, "", "8"},
		{"relative timeframe", p.APIKeys["read"], "POST", `{"event_collection":"purchases","timeframe":"this_1_days"}`, "", "12"},
		{"previous day", p.APIKeys["read"], "POST", `{"event_collection":"purchases","timeframe":"previous_1_days"}`, "", "24"},
		{"GET parameters", p.APIKeys["read"], "GET", "", "?event_collection=purchases&timeframe=this_1_days&filters=" +
			url.QueryEscape(`[{"property_name":"tenant","operator":"eq","property_value":"b"}]`), "6"},
		{"access key filters ANDed", filtered.Key, "POST", `{"event_collection":"purchases","filters":[{"property_name":"price","operator":"lt","property_value":10}]}`, "", "5"},
		{"unknown collection", p.APIKeys["read"], "POST", `{"event_collection":"nothing"}`, "", "0"},
	}
	for _, tc := range cases {
		st, got := count(tc.key, tc.method, tc.body, tc.query)
		if st != 200 || got != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.name, st, got, tc.want)
		}
	}

	var r result
	if st := f.do("POST", base+"extraction", p.APIKeys["read"], `{"event_collection":"purchases","latest":2}`, &r); st != 200 {
		t.Fatalf("extraction: %d", st)
	}
	var evs []struct {
		Price int `json:"price"`
	}
	if err := json.Unmarshal(r.Result, &evs); err != nil || len(evs) != 2 || evs[0].Price != 1 || evs[1].Price != 0 {
		t.Fatalf("latest 2 = %s (%v)", r.Result, err)
	}

	refusals := []struct {
		name, key, path, body string
		status                int
		code                  string
	}{
		{"no key", "", "count", `{"event_collection":"purchases"}`, 401, "InvalidApiKeyError"},
		{"write key", p.APIKeys["write"], "count", `{"event_collection":"purchases"}`, 401, "InvalidApiKeyError"},
		{"unknown analysis", p.APIKeys["read"], "sums", `{"event_collection":"purchases"}`, 400, "InvalidAnalysisTypeError"},
		{"no collection", p.APIKeys["read"], "count", `{}`, 400, "InvalidQueryError"},
		{"bad operator", p.APIKeys["read"], "count", `{"event_collection":"purchases","filters":[{"property_name":"a","operator":"like","property_value":1}]}`, 400, "InvalidQueryError"},
		{"malformed body", p.APIKeys["read"], "count", `{"event_collection":`, 400, "InvalidRequestError"},
	}
	for _, tc := range refusals {
		var e keenError
		if st := f.do("POST", base+tc.path, tc.key, tc.body, &e); st != tc.status || e.ErrorCode != tc.code || e.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, st, e, tc.status, tc.code)
		}
	}
}

// TestExtractionTooLarge: an extraction that matches more than Keen's
// 100,000 events is refused with 400 and a way out (latest, a narrower
// timeframe), found before any event is read; latest 100,000 and a
// narrower timeframe are served, and the answer is the events as stored.
func TestExtractionTooLarge(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	const n = limits.MaxExtractionEvents + 1
	evs := make([]store.Event, 0, n)
	for i := range n {
		ts := queryNow.Add(-time.Duration(n-i) * time.Second)
		id := fmt.Sprintf("%024x", i+1)
		body := fmt.Sprintf(`{"keen":{"timestamp":%q,"created_at":%q,"id":%q},"i":%d,"html":"<&>"}`,
			ts.Format("2006-01-02T15:04:05.000Z"), ts.Format("2006-01-02T15:04:05.000Z"), id, i)
		evs = append(evs, store.Event{ProjectID: p.ID, Collection: "big", ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(body)})
	}
	if _, err := f.store.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	base := "/3.0/projects/" + p.ID + "/queries/extraction"
	var e keenError
	if st := f.do("POST", base, p.APIKeys["read"], `{"event_collection":"big"}`, &e); st != 400 || e.ErrorCode != "ExtractionTooLargeError" ||
		!strings.Contains(e.Message, "more than 100000 events") || !strings.Contains(e.Message, `"latest"`) {
		t.Errorf("all %d events: %d %+v", n, st, e)
	}
	if st := f.do("POST", base, p.APIKeys["read"], `{"event_collection":"big","latest":100001}`, &e); st != 400 || e.ErrorCode != "InvalidQueryError" {
		t.Errorf("latest 100001: %d %+v", st, e)
	}
	var r struct {
		Result []json.RawMessage `json:"result"`
	}
	if st := f.do("POST", base, p.APIKeys["read"], `{"event_collection":"big","latest":100000}`, &r); st != 200 || len(r.Result) != limits.MaxExtractionEvents ||
		string(r.Result[0]) != string(evs[1].JSON) || string(r.Result[len(r.Result)-1]) != string(evs[n-1].JSON) {
		t.Errorf("latest 100000: %d, %d events", st, len(r.Result))
	}
	r.Result = nil
	if st := f.do("POST", base, p.APIKeys["read"], `{"event_collection":"big","timeframe":"previous_1_minutes"}`, &r); st != 200 || len(r.Result) != 60 {
		t.Errorf("previous_1_minutes: %d, %d events", st, len(r.Result))
	}
}
