package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/dataset"
	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// countingStore counts the analyses run against its store: results served
// from what a dataset kept run none.
type countingStore struct {
	store.Store
	runs *atomic.Int64
}

func (c countingStore) Run(ctx context.Context, q store.Query) (store.Result, error) {
	c.runs.Add(1)
	return c.Store.Run(ctx, q)
}

type datasetDoc struct {
	ProjectID                   string          `json:"project_id"`
	OrganizationID              string          `json:"organization_id"`
	DatasetName                 string          `json:"dataset_name"`
	DisplayName                 string          `json:"display_name"`
	Query                       map[string]any  `json:"query"`
	IndexBy                     []string        `json:"index_by"`
	LastScheduledDate           string          `json:"last_scheduled_date"`
	LatestSubtimeframeAvailable string          `json:"latest_subtimeframe_available"`
	MillisecondsBehind          *int64          `json:"milliseconds_behind"`
	Status                      string          `json:"status"`
	Message                     string          `json:"message"`
	Result                      json.RawMessage `json:"result"`
}

const byTenant = `{"display_name":"Daily purchases by tenant","index_by":"tenant",
	"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily","group_by":"price"}}`

func TestDatasets(t *testing.T) {
	var runs atomic.Int64
	model := storetest.NewModel()
	f := newFixture(t, func(c *httpapi.Config) { c.Store = countingStore{model, &runs} })
	p := f.createProject("P")
	f.seed(p.ID, 48)
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	base := "/3.0/projects/" + p.ID + "/datasets"

	// Before its first computation a dataset is "Created", its dates
	// Keen's epoch.
	var d datasetDoc
	if st := f.do("PUT", base+"/by-tenant", master, byTenant, &d); st != 201 {
		t.Fatalf("create: %d %+v", st, d)
	}
	if d.ProjectID != p.ID || d.OrganizationID != orgID || d.DatasetName != "by-tenant" || d.DisplayName != "Daily purchases by tenant" ||
		len(d.IndexBy) != 1 || d.IndexBy[0] != "tenant" || d.Query["project_id"] != p.ID || d.Query["interval"] != "daily" ||
		d.LastScheduledDate != "1970-01-01T00:00:00.000Z" || d.LatestSubtimeframeAvailable != "1970-01-01T00:00:00.000Z" ||
		d.MillisecondsBehind == nil || *d.MillisecondsBehind != 0 || d.Status != dataset.StatusCreated {
		t.Fatalf("document: %+v", d)
	}
	// What a client read back (project_id in the query, dataset_name) may be
	// sent again: a replace, 200.
	back, _ := json.Marshal(map[string]any{"dataset_name": "by-tenant", "display_name": "Again", "query": d.Query, "index_by": d.IndexBy})
	if st := f.do("PUT", base+"/by-tenant", master, string(back), &d); st != 200 || d.DisplayName != "Again" {
		t.Fatalf("replace with what was read: %d %+v", st, d)
	}
	for _, n := range []string{"b", "c"} {
		if st := f.do("PUT", base+"/"+n, master, byTenant, nil); st != 201 {
			t.Fatalf("create %s: %d", n, st)
		}
	}
	var page struct {
		Datasets    []datasetDoc `json:"datasets"`
		NextPageURL *string      `json:"next_page_url"`
	}
	if st := f.do("GET", base+"?limit=2", read, "", &page); st != 200 || len(page.Datasets) != 2 || page.Datasets[0].DatasetName != "b" ||
		page.NextPageURL == nil || *page.NextPageURL != base+"?after_name=by-tenant&limit=2" {
		t.Fatalf("first page: %d %+v", st, page)
	}
	if st := f.do("GET", *page.NextPageURL, read, "", &page); st != 200 || len(page.Datasets) != 1 || page.Datasets[0].DatasetName != "c" || page.NextPageURL != nil {
		t.Fatalf("second page: %d %+v", st, page)
	}

	results := func(key, index, timeframe string) (int, string) {
		t.Helper()
		var r struct{ Result json.RawMessage }
		st := f.do("GET", base+"/by-tenant/results?"+url.Values{"index_by": {index}, "timeframe": {timeframe}}.Encode(), key, "", &r)
		return st, string(r.Result)
	}
	direct := func(tenant, timeframe string) string {
		t.Helper()
		var r struct{ Result json.RawMessage }
		body := `{"event_collection":"purchases","timeframe":"` + timeframe + `","interval":"daily","group_by":"price",
			"filters":[{"property_name":"tenant","operator":"eq","property_value":"` + tenant + `"}]}`
		if st := f.do("POST", "/3.0/projects/"+p.ID+"/queries/count", read, body, &r); st != 200 {
			t.Fatalf("query API: %d", st)
		}
		return string(r.Result)
	}
	// Not computed yet: results are computed when asked.
	want := direct("a", "this_2_days")
	if st, got := results(read, "a", "this_2_days"); st != 200 || got != want || got == "" {
		t.Fatalf("results before the first computation: %d %s, want %s", st, got, want)
	}

	// The leader computes every dataset and keeps the results.
	clock := queryNow
	refresher := &dataset.Refresher{Registry: f.reg, Store: model, Every: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	refresh := func() {
		t.Helper()
		clock = clock.Add(time.Second)
		refresher.RefreshDue(context.Background(), "test", func() time.Time { return clock })
	}
	refresh()
	if st := f.do("GET", base+"/by-tenant", read, "", &d); st != 200 || d.Status != dataset.StatusOK ||
		d.LastScheduledDate != "2026-11-18T12:00:01.000Z" || d.LatestSubtimeframeAvailable != "2026-11-19T00:00:00.000Z" || *d.MillisecondsBehind != 0 {
		t.Fatalf("computed: %d %+v", st, d)
	}
	// Results equal the query run directly, and run no store query.
	for _, c := range []struct{ tenant, asked, direct string }{
		{"a", "this_2_days", "this_2_days"},
		{"b", "this_3_days", "this_3_days"},
		{"b", "this_10_days", "this_3_days"}, // cut to the dataset's timeframe
		{"nobody", "this_3_days", "this_3_days"},
	} {
		want := direct(c.tenant, c.direct)
		before := runs.Load()
		st, got := results(read, c.tenant, c.asked)
		if st != 200 || got != want {
			t.Fatalf("kept results of %s over %s: %d %s, want %s", c.tenant, c.asked, st, got, want)
		}
		if n := runs.Load() - before; n != 0 {
			t.Fatalf("kept results of %s ran %d store queries", c.tenant, n)
		}
	}

	// New events are in the next computation's results.
	ts := queryNow.Add(-30 * time.Minute)
	if _, err := model.Insert(context.Background(), []store.Event{{ProjectID: p.ID, Collection: "purchases", ID: "0000000000000000000000ff", Timestamp: ts, CreatedAt: ts,
		JSON: []byte(`{"keen":{"timestamp":"` + ts.Format("2006-01-02T15:04:05.000Z") + `","created_at":"` + ts.Format("2006-01-02T15:04:05.000Z") + `","id":"0000000000000000000000ff"},"tenant":"a","price":1000}`)}}); err != nil {
		t.Fatal(err)
	}
	_, stale := results(read, "a", "this_day")
	refresh()
	fresh := direct("a", "this_day")
	if stale == fresh {
		t.Fatalf("the new event changes nothing: %s", fresh)
	}
	if st, got := results(read, "a", "this_day"); st != 200 || got != fresh {
		t.Fatalf("after a refresh: %d %s, want %s", st, got, fresh)
	}

	// An access key's query filters are ANDed in: computed when asked, as
	// the kept results are unfiltered.
	var k registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"cheap","permitted":["datasets"],
		"options":{"queries":{"filters":[{"property_name":"price","operator":"lt","property_value":10}]}}}`, &k)
	var r struct{ Result json.RawMessage }
	f.do("POST", "/3.0/projects/"+p.ID+"/queries/count", read, `{"event_collection":"purchases","timeframe":"this_3_days","interval":"daily","group_by":"price","filters":[{"property_name":"tenant","operator":"eq","property_value":"a"},{"property_name":"price","operator":"lt","property_value":10}]}`, &r)
	if st, got := results(k.Key, "a", "this_3_days"); st != 200 || got != string(r.Result) {
		t.Fatalf("filtered key: %d %s, want %s", st, got, r.Result)
	}

	// A replaced definition is computed when asked until it is computed.
	if st := f.do("PUT", base+"/by-tenant", master, byTenant, &d); st != 200 || d.Status != dataset.StatusCreated {
		t.Fatalf("replace: %d %+v", st, d)
	}
	before := runs.Load()
	if st, got := results(read, "a", "this_day"); st != 200 || got != fresh || runs.Load() == before {
		t.Fatalf("results of a replaced definition: %d %s (ran %d)", st, got, runs.Load()-before)
	}

	var e keenError
	if st := f.do("DELETE", base+"/by-tenant", master, "", nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st := f.do("GET", base+"/by-tenant", master, "", &e); st != 404 || e.ErrorCode != "ResourceNotFoundError" {
		t.Fatalf("get deleted: %d %+v", st, e)
	}
	f.reg.Read(func(v *registry.View) {
		if n := len(v.DatasetResults(p.ID, "by-tenant")); n != 0 {
			t.Fatalf("a deleted dataset keeps %d results", n)
		}
	})
}

func TestDatasetRefusals(t *testing.T) {
	f := newFixture(t, func(c *httpapi.Config) { c.Store = storetest.NewModel() })
	p := f.createProject("P")
	master := p.APIKeys["master"]
	base := "/3.0/projects/" + p.ID + "/datasets"
	if st := f.do("PUT", base+"/two", master, `{"display_name":"Two","index_by":["tenant","price"],
		"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily"}}`, nil); st != 201 {
		t.Fatalf("create: %d", st)
	}
	var ak registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"q","permitted":["queries"]}`, &ak)
	q := func(analysis, extra string) string {
		return `{"display_name":"D","index_by":"tenant","query":{"analysis_type":"` + analysis + `","event_collection":"purchases"` + extra + `}}`
	}
	cases := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"read key may not create", "PUT", "/d", p.APIKeys["read"], byTenant, 401, "AdminOnlyEndpointError"},
		{"read key may not delete", "DELETE", "/two", p.APIKeys["read"], "", 401, "AdminOnlyEndpointError"},
		{"write key may not list", "GET", "", p.APIKeys["write"], "", 401, "InvalidApiKeyError"},
		{"queries key may not read results", "GET", "/two/results?index_by=x&timeframe=this_day", ak.Key, "", 401, "InvalidApiKeyError"},
		{"no interval", "PUT", "/d", master, q("count", `,"timeframe":"this_3_days"`), 400, "InvalidRequestError"},
		{"absolute timeframe", "PUT", "/d", master, q("count", `,"interval":"daily","timeframe":{"start":"2026-01-01T00:00:00Z","end":"2026-02-01T00:00:00Z"}`), 400, "InvalidRequestError"},
		{"no timeframe", "PUT", "/d", master, q("count", `,"interval":"daily"`), 400, "InvalidRequestError"},
		{"extraction", "PUT", "/d", master, q("extraction", `,"interval":"daily","timeframe":"this_3_days"`), 400, "InvalidRequestError"},
		{"query refused as the query API does", "PUT", "/d", master, q("sum", `,"interval":"daily","timeframe":"this_3_days"`), 400, "InvalidQueryError"},
		{"bad timeframe", "PUT", "/d", master, q("count", `,"interval":"daily","timeframe":"this_fortnight"`), 400, "TimeframeDefinitionError"},
		{"no index_by", "PUT", "/d", master, `{"display_name":"D","query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily"}}`, 400, "InvalidRequestError"},
		{"no display_name", "PUT", "/d", master, `{"index_by":"tenant","query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily"}}`, 400, "InvalidRequestError"},
		{"read-only field", "PUT", "/d", master, `{"display_name":"D","index_by":"t","milliseconds_behind":0,"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily"}}`, 400, "InvalidRequestError"},
		{"rename", "PUT", "/d", master, `{"dataset_name":"e","display_name":"D","index_by":"t","query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily"}}`, 400, "InvalidRequestError"},
		{"another project's query", "PUT", "/d", master, `{"display_name":"D","index_by":"t","query":{"project_id":"000000000000000000000000","analysis_type":"count","event_collection":"purchases","timeframe":"this_3_days","interval":"daily"}}`, 400, "InvalidRequestError"},
		{"results without index_by", "GET", "/two/results?timeframe=this_day", master, "", 400, "InvalidRequestError"},
		{"results without timeframe", "GET", "/two/results?index_by=%7B%22tenant%22:%22a%22,%22price%22:1%7D", master, "", 400, "InvalidRequestError"},
		{"results with another parameter", "GET", "/two/results?index_by=a&timeframe=this_day&interval=hourly", master, "", 400, "InvalidRequestError"},
		{"several index_by need an object", "GET", "/two/results?index_by=a&timeframe=this_day", master, "", 400, "InvalidRequestError"},
		{"index_by object missing one", "GET", "/two/results?index_by=%7B%22tenant%22:%22a%22%7D&timeframe=this_day", master, "", 400, "InvalidRequestError"},
		{"timeframe outside the dataset's", "GET", "/two/results?index_by=%7B%22tenant%22:%22a%22,%22price%22:1%7D&timeframe=%7B%22start%22:%222020-01-01T00:00:00Z%22,%22end%22:%222020-02-01T00:00:00Z%22%7D", master, "", 400, "InvalidRequestError"},
		{"bad results timeframe", "GET", "/two/results?index_by=%7B%22tenant%22:%22a%22,%22price%22:1%7D&timeframe=soon", master, "", 400, "TimeframeDefinitionError"},
		{"results of a missing dataset", "GET", "/nope/results?index_by=a&timeframe=this_day", master, "", 404, "ResourceNotFoundError"},
		{"list with an unknown parameter", "GET", "?page=2", master, "", 400, "InvalidRequestError"},
		{"list with a bad limit", "GET", "?limit=0", master, "", 400, "InvalidRequestError"},
		{"delete a missing dataset", "DELETE", "/nope", master, "", 404, "ResourceNotFoundError"},
	}
	for _, c := range cases {
		var e keenError
		if st := f.do(c.method, base+c.path, c.key, c.body, &e); st != c.status || e.ErrorCode != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, st, e, c.status, c.code)
		}
	}
	// Two index_by properties: a JSON object.
	var r struct{ Result json.RawMessage }
	if st := f.do("GET", base+"/two/results?index_by=%7B%22tenant%22:%22a%22,%22price%22:1%7D&timeframe=this_day", master, "", &r); st != 200 || string(r.Result) == "" {
		t.Fatalf("two index_by: %d %s", st, r.Result)
	}
}

// TestDatasetAccessKeys: an access key's datasets options (Keen's
// operations, allowed with pinned index values, blocked) bound what it may
// do with datasets.
func TestDatasetAccessKeys(t *testing.T) {
	f := newFixture(t, func(c *httpapi.Config) { c.Store = storetest.NewModel() })
	p := f.createProject("P")
	f.seed(p.ID, 48)
	master := p.APIKeys["master"]
	base := "/3.0/projects/" + p.ID + "/datasets"
	for _, n := range []string{"by-tenant", "other", "secret"} {
		if st := f.do("PUT", base+"/"+n, master, byTenant, nil); st != 201 {
			t.Fatalf("create %s: %d", n, st)
		}
	}
	key := func(options string) string {
		t.Helper()
		var k registry.AccessKey
		if st := f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"k","permitted":["datasets"],"options":{"datasets":`+options+`}}`, &k); st != 201 {
			t.Fatalf("key %s: %d", options, st)
		}
		return k.Key
	}
	tenantA := key(`{"operations":["retrieve"],"allowed":{"by-tenant":{"index_by":{"tenant":["a"]}},"other":{}}}`)
	browse := key(`{"operations":["list","read"],"blocked":["secret"]}`)
	wrongPin := key(`{"allowed":{"by-tenant":{"index_by":{"price":[1]}}}}`)
	results := func(name, index string) string {
		return base + "/" + name + "/results?" + url.Values{"index_by": {index}, "timeframe": {"this_day"}}.Encode()
	}
	cases := []struct {
		name, path, key string
		status          int
	}{
		{"pinned value", results("by-tenant", "a"), tenantA, 200},
		{"another value", results("by-tenant", "b"), tenantA, 401},
		{"quoted the same value", results("by-tenant", `"a"`), tenantA, 200},
		{"allowed without pins", results("other", "b"), tenantA, 200},
		{"not allowed", results("secret", "a"), tenantA, 401},
		{"retrieve only: no definition", base + "/by-tenant", tenantA, 401},
		{"retrieve only: no list", base, tenantA, 401},
		{"read", base + "/other", browse, 200},
		{"blocked", base + "/secret", browse, 401},
		{"no retrieve", results("other", "a"), browse, 401},
		{"a pin on a property the dataset is not indexed by", results("by-tenant", "a"), wrongPin, 401},
		{"missing dataset is 404", results("nope", "a"), tenantA, 404},
	}
	for _, c := range cases {
		var e keenError
		if st := f.do("GET", c.path, c.key, "", &e); st != c.status || (st == 401 && e.ErrorCode != "InvalidApiKeyError") {
			t.Errorf("%s: %d %+v, want %d", c.name, st, e, c.status)
		}
	}
	var page struct {
		Datasets []datasetDoc `json:"datasets"`
	}
	if st := f.do("GET", base, browse, "", &page); st != 200 || len(page.Datasets) != 2 || page.Datasets[0].DatasetName != "by-tenant" || page.Datasets[1].DatasetName != "other" {
		t.Fatalf("list without the blocked one: %d %+v", st, page)
	}
	// The key's options are echoed as given.
	var k struct {
		Options struct {
			Datasets json.RawMessage `json:"datasets"`
		} `json:"options"`
	}
	f.do("GET", "/3.0/projects/"+p.ID+"/keys/"+browse, master, "", &k)
	if string(k.Options.Datasets) != `{"operations":["list","read"],"blocked":["secret"]}` {
		t.Fatalf("options echoed: %s", k.Options.Datasets)
	}
}

// TestDatasetFailedComputation: a dataset whose results cannot be kept
// (its index_by property holds arrays of strings) says why in its
// document, "Failed", and its results are computed when asked.
func TestDatasetFailedComputation(t *testing.T) {
	var runs atomic.Int64
	model := storetest.NewModel()
	f := newFixture(t, func(c *httpapi.Config) { c.Store = countingStore{model, &runs} })
	p := f.createProject("P")
	ts := queryNow.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z")
	if _, err := model.Insert(context.Background(), []store.Event{{ProjectID: p.ID, Collection: "purchases", ID: "0000000000000000000000aa",
		Timestamp: queryNow.Add(-time.Hour), CreatedAt: queryNow.Add(-time.Hour),
		JSON: []byte(`{"keen":{"timestamp":"` + ts + `","created_at":"` + ts + `","id":"0000000000000000000000aa"},"tags":["x","y"]}`)}}); err != nil {
		t.Fatal(err)
	}
	base := "/3.0/projects/" + p.ID + "/datasets/by-tag"
	if st := f.do("PUT", base, p.APIKeys["master"], `{"display_name":"By tag","index_by":"tags",
		"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_2_days","interval":"daily"}}`, nil); st != 201 {
		t.Fatalf("create: %d", st)
	}
	refresher := &dataset.Refresher{Registry: f.reg, Store: model, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	refresher.RefreshDue(context.Background(), "test", func() time.Time { return queryNow })
	var d datasetDoc
	if st := f.do("GET", base, p.APIKeys["read"], "", &d); st != 200 || d.Status != dataset.StatusFailed ||
		!strings.Contains(d.Message, "InvalidRequestError") || !strings.Contains(d.Message, "arrays of strings") || d.LastScheduledDate != "2026-11-18T12:00:00.000Z" {
		t.Fatalf("document: %d %+v", st, d)
	}
	// Computed when asked: the event's array holds "x", so it counts.
	var r struct{ Result json.RawMessage }
	before := runs.Load()
	if st := f.do("GET", base+"/results?index_by=x&timeframe=this_day", p.APIKeys["read"], "", &r); st != 200 || runs.Load() == before ||
		string(r.Result) != `[{"timeframe":{"start":"2026-11-18T00:00:00.000Z","end":"2026-11-19T00:00:00.000Z"},"value":1}]` {
		t.Fatalf("results: %d %s (ran %d)", st, r.Result, runs.Load()-before)
	}
}
