package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/dataset"
	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

type savedDoc struct {
	QueryName            string          `json:"query_name"`
	RefreshRate          int             `json:"refresh_rate"`
	Query                json.RawMessage `json:"query"`
	Metadata             json.RawMessage `json:"metadata"`
	CreatedDate          string          `json:"created_date"`
	LastModifiedDate     string          `json:"last_modified_date"`
	UserLastModifiedDate string          `json:"user_last_modified_date"`
	RunInformation       *struct {
		LastRunDate   *string `json:"last_run_date"`
		LastRunStatus *int    `json:"last_run_status"`
		NextRunDate   string  `json:"next_run_date"`
	} `json:"run_information"`
	Result json.RawMessage `json:"result"`
}

const countPurchases = `{"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"this_2_days"},"metadata":{"display_name":"Purchases"}}`

func TestSavedQueriesCRUD(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	base := "/3.0/projects/" + p.ID + "/queries/saved"

	var doc savedDoc
	if st := f.do("PUT", base+"/purchases-2d", master, countPurchases, &doc); st != http.StatusCreated {
		t.Fatalf("create: %d %+v", st, doc)
	}
	if doc.QueryName != "purchases-2d" || doc.RefreshRate != 0 || doc.RunInformation != nil ||
		!strings.Contains(string(doc.Query), `"analysis_type":"count"`) || string(doc.Metadata) != `{"display_name":"Purchases"}` ||
		doc.CreatedDate != "2026-11-18T12:00:00.000000+00:00" || doc.LastModifiedDate != doc.CreatedDate || doc.UserLastModifiedDate != doc.CreatedDate {
		t.Fatalf("created document: %+v", doc)
	}
	// The read key reads definitions; the list is by name.
	if st := f.do("PUT", base+"/a-first", master, `{"query":{"analysis_type":"count","event_collection":"purchases"},"refresh_rate":14400}`, nil); st != http.StatusCreated {
		t.Fatalf("create a-first: %d", st)
	}
	var list []savedDoc
	if st := f.do("GET", base, read, "", &list); st != 200 || len(list) != 2 || list[0].QueryName != "a-first" || list[1].QueryName != "purchases-2d" {
		t.Fatalf("list: %d %+v", st, list)
	}
	if ri := list[0].RunInformation; list[0].RefreshRate != 14400 || ri == nil || ri.LastRunDate != nil || ri.NextRunDate != "2026-11-18T12:00:00.000000+00:00" {
		t.Fatalf("a cached query not run yet: %+v", list[0])
	}
	var one savedDoc
	if st := f.do("GET", base+"/purchases-2d", read, "", &one); st != 200 || one.QueryName != "purchases-2d" || one.Result != nil {
		t.Fatalf("get: %d %+v", st, one)
	}
	// Full replace: 200, what the body omits is cleared, created_date kept.
	if st := f.do("PUT", base+"/purchases-2d", master, `{"query":{"analysis_type":"count","event_collection":"purchases"}}`, &doc); st != http.StatusOK ||
		string(doc.Metadata) != `{}` || strings.Contains(string(doc.Query), "timeframe") || doc.CreatedDate != one.CreatedDate {
		t.Fatalf("replace: %d %+v", st, doc)
	}
	// Rename through query_name (keen-gem's documented use).
	if st := f.do("PUT", base+"/purchases-2d", master, `{"query_name":"purchases-all","query":{"analysis_type":"count","event_collection":"purchases"}}`, &doc); st != http.StatusOK || doc.QueryName != "purchases-all" {
		t.Fatalf("rename: %d %+v", st, doc)
	}
	var e keenError
	if st := f.do("GET", base+"/purchases-2d", master, "", &e); st != 404 || e.ErrorCode != "ResourceNotFoundError" {
		t.Fatalf("old name after rename: %d %+v", st, e)
	}
	if st := f.do("PUT", base+"/purchases-all", master, `{"query_name":"a-first","query":{"analysis_type":"count","event_collection":"purchases"}}`, &e); st != 409 || e.ErrorCode != "DuplicateResourceError" {
		t.Fatalf("rename onto an existing name: %d %+v", st, e)
	}
	// Delete: 204, then 404.
	if st := f.do("DELETE", base+"/purchases-all", master, "", nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st := f.do("DELETE", base+"/purchases-all", master, "", &e); st != 404 || e.ErrorCode != "ResourceNotFoundError" {
		t.Fatalf("delete again: %d %+v", st, e)
	}
	if st := f.do("GET", base+"/purchases-all", master, "", &e); st != 404 {
		t.Fatalf("get deleted: %d", st)
	}
	// keen-analysis.js creates with a POST.
	if st := f.do("POST", base+"/posted", master, countPurchases, nil); st != http.StatusCreated {
		t.Fatalf("create with POST: %d", st)
	}
	// Another process sees them all (they live in the registry topic).
	r2 := registryOn(t, f)
	var names []string
	r2.Read(func(v *registry.View) {
		for _, sq := range v.SavedQueries(p.ID) {
			names = append(names, sq.Name)
		}
	})
	if strings.Join(names, ",") != "a-first,posted" {
		t.Fatalf("a second process sees %v", names)
	}
}

func registryOn(t *testing.T, f *fixture) *registry.Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := registry.Open(ctx, f.b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestSavedQueryRefusals(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	master := p.APIKeys["master"]
	base := "/3.0/projects/" + p.ID + "/queries/saved"
	cases := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"read key may not create", "PUT", "/q", p.APIKeys["read"], countPurchases, 401, "AdminOnlyEndpointError"},
		{"read key may not delete", "DELETE", "/q", p.APIKeys["read"], "", 401, "AdminOnlyEndpointError"},
		{"no key", "GET", "", "", "", 401, "InvalidApiKeyError"},
		{"write key may not list", "GET", "", p.APIKeys["write"], "", 401, "InvalidApiKeyError"},
		{"write key may not run", "GET", "/q/result", p.APIKeys["write"], "", 401, "InvalidApiKeyError"},
		{"missing query", "PUT", "/q", master, `{"refresh_rate":0}`, 400, "InvalidRequestError"},
		{"not an object", "PUT", "/q", master, `[1]`, 400, "InvalidRequestError"},
		{"unknown field", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c"},"owner":"x"}`, 400, "InvalidRequestError"},
		{"read-only field", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c"},"last_modified_date":"2015-10-19T20:14:29.797000+00:00"}`, 400, "InvalidRequestError"},
		{"refresh_rate under 4 hours", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":3600}`, 400, "InvalidRequestError"},
		{"refresh_rate over 48 hours", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":172801}`, 400, "InvalidRequestError"},
		{"refresh_rate not a number", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":"4h"}`, 400, "InvalidRequestError"},
		{"metadata not an object", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c"},"metadata":"x"}`, 400, "InvalidRequestError"},
		{"bad name", "PUT", "/bad%20name", master, countPurchases, 400, "InvalidRequestError"},
		{"bad query_name", "PUT", "/q", master, `{"query_name":"a/b","query":{"analysis_type":"count","event_collection":"c"}}`, 400, "InvalidRequestError"},
		{"no analysis_type", "PUT", "/q", master, `{"query":{"event_collection":"c"}}`, 400, "InvalidAnalysisTypeError"},
		{"unknown analysis", "PUT", "/q", master, `{"query":{"analysis_type":"mode","event_collection":"c"}}`, 400, "InvalidAnalysisTypeError"},
		{"query without event_collection", "PUT", "/q", master, `{"query":{"analysis_type":"count"}}`, 400, "InvalidQueryError"},
		{"query with an unknown parameter", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c","refresh_rate":14400}}`, 400, "InvalidQueryError"},
		{"query with a bad timeframe", "PUT", "/q", master, `{"query":{"analysis_type":"count","event_collection":"c","timeframe":"this_fortnight"}}`, 400, "TimeframeDefinitionError"},
		{"sum without target_property", "PUT", "/q", master, `{"query":{"analysis_type":"sum","event_collection":"c"}}`, 400, "InvalidQueryError"},
		{"result of a missing query", "GET", "/nope/result", master, "", 404, "ResourceNotFoundError"},
		{"get a missing query", "GET", "/nope", p.APIKeys["read"], "", 404, "ResourceNotFoundError"},
		{"URL parameter on a result", "GET", "/q/result?timeframe=this_2_days", master, "", 400, "InvalidRequestError"},
		{"URL parameter on a PUT", "PUT", "/q?refresh_rate=14400", master, countPurchases, 400, "InvalidRequestError"},
		{"URL parameter on a list", "GET", "?page=2", master, "", 400, "InvalidRequestError"},
		{"rename a missing query", "PUT", "/nope", master, `{"query_name":"other","query":{"analysis_type":"count","event_collection":"c"}}`, 404, "ResourceNotFoundError"},
	}
	before := f.registryEnd()
	for _, c := range cases {
		var e keenError
		if st := f.do(c.method, base+c.path, c.key, c.body, &e); st != c.status || e.ErrorCode != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, st, e, c.status, c.code)
		}
	}
	if after := f.registryEnd(); after != before {
		t.Fatalf("refused requests wrote %d registry records", after-before)
	}
	// The query API's refusal, word for word.
	var want, got keenError
	f.do("POST", "/3.0/projects/"+p.ID+"/queries/count", master, `{"event_collection":"c","timeframe":"this_fortnight"}`, &want)
	f.do("PUT", base+"/q", master, `{"query":{"analysis_type":"count","event_collection":"c","timeframe":"this_fortnight"}}`, &got)
	if got != want {
		t.Fatalf("saved query refusal %+v, query API's %+v", got, want)
	}
}

func TestSavedQueryResult(t *testing.T) {
	// The in-memory model store answers every analysis.
	f := newFixture(t, func(c *httpapi.Config) { c.Store = storetest.NewModel() })
	p := f.createProject("P")
	f.seed(p.ID, 48)
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	base := "/3.0/projects/" + p.ID + "/queries/saved"
	put := func(name, body string) {
		t.Helper()
		if st := f.do("PUT", base+"/"+name, master, body, nil); st != 201 {
			t.Fatalf("create %s: %d", name, st)
		}
	}
	put("day", `{"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"previous_24_hours"}}`)
	put("by-tenant", `{"query":{"analysis_type":"count","event_collection":"purchases","group_by":"tenant"}}`)
	put("other", `{"query":{"analysis_type":"count","event_collection":"purchases"}}`)
	put("cached", `{"query":{"analysis_type":"count","event_collection":"purchases"},"refresh_rate":14400}`)

	var doc savedDoc
	if st := f.do("GET", base+"/day/result?api_key="+read, "", "", &doc); st != 200 || string(doc.Result) != "24" || doc.QueryName != "day" {
		t.Fatalf("result: %d %+v", st, doc)
	}
	// The same answer as the query API gives.
	var direct struct{ Result json.RawMessage }
	f.do("POST", "/3.0/projects/"+p.ID+"/queries/count", read, `{"event_collection":"purchases","group_by":"tenant"}`, &direct)
	if st := f.do("GET", base+"/by-tenant/result", master, "", &doc); st != 200 || string(doc.Result) != string(direct.Result) {
		t.Fatalf("grouped result %s, query API %s", doc.Result, direct.Result)
	}

	// Access keys: saved_queries with allowed names and filters.
	key := func(body string) string {
		t.Helper()
		var k registry.AccessKey
		if st := f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, body, &k); st != 201 {
			t.Fatalf("create key: %d", st)
		}
		return k.Key
	}
	onlyDay := key(`{"name":"day only","permitted":["saved_queries"],"options":{"saved_queries":{"allowed":["day","cached"],"filters":[{"property_name":"tenant","operator":"eq","property_value":"a"}]}}}`)
	blocked := key(`{"name":"not day","permitted":["saved_queries"],"options":{"saved_queries":{"blocked":["day"]}}}`)
	cachedOnly := key(`{"name":"cached only","permitted":["cached_queries"]}`)
	queriesOnly := key(`{"name":"queries","permitted":["queries"]}`)
	tenantB := key(`{"name":"tenant b","permitted":["saved_queries"],"options":{"queries":{"filters":[{"property_name":"tenant","operator":"eq","property_value":"b"}]}}}`)

	var e keenError
	if st := f.do("GET", base+"/day/result", onlyDay, "", &doc); st != 200 || string(doc.Result) != "12" {
		t.Fatalf("allowed with filters: %d %s", st, doc.Result)
	}
	if st := f.do("GET", base+"/other/result", onlyDay, "", &e); st != 401 || e.ErrorCode != "InvalidApiKeyError" {
		t.Fatalf("not allowed: %d %+v", st, e)
	}
	var list []savedDoc
	if st := f.do("GET", base, onlyDay, "", &list); st != 200 || len(list) != 2 || list[0].QueryName != "cached" || list[1].QueryName != "day" {
		t.Fatalf("list with allowed names: %d %+v", st, list)
	}
	if st := f.do("GET", base+"/day/result", blocked, "", &e); st != 401 || e.ErrorCode != "InvalidApiKeyError" {
		t.Fatalf("blocked: %d %+v", st, e)
	}
	if st := f.do("GET", base+"/other/result", blocked, "", &doc); st != 200 || string(doc.Result) != "48" {
		t.Fatalf("not blocked: %d %s", st, doc.Result)
	}
	if st := f.do("GET", base+"/day/result", cachedOnly, "", &e); st != 401 {
		t.Fatalf("cached_queries key on a saved query: %d", st)
	}
	if st := f.do("GET", base, queriesOnly, "", &e); st != 401 || e.ErrorCode != "InvalidApiKeyError" {
		t.Fatalf("queries key listing saved queries: %d %+v", st, e)
	}
	if st := f.do("GET", base+"/other/result", tenantB, "", &doc); st != 200 || string(doc.Result) != "24" {
		t.Fatalf("the key's query filters apply to saved queries: %d %s", st, doc.Result)
	}

	// A cached query not run yet is computed when asked.
	if st := f.do("GET", base+"/cached/result", cachedOnly, "", &doc); st != 200 || string(doc.Result) != "48" || doc.RunInformation == nil || doc.RunInformation.LastRunDate != nil {
		t.Fatalf("cached, not run yet: %d %+v", st, doc)
	}
	// Once the schedule has run it, the answer is the cached one, with its age.
	var sq registry.SavedQuery
	f.reg.Read(func(v *registry.View) { sq, _ = v.SavedQuery(p.ID, "cached") })
	runAt := queryNow.Add(-90 * time.Minute)
	if err := f.reg.PutSavedResult(context.Background(), registry.SavedResult{ProjectID: p.ID, Name: "cached", Version: sq.Version,
		RunAt: runAt, Body: json.RawMessage(`{"result":40}`), Status: 200, Holder: "test"}); err != nil {
		t.Fatal(err)
	}
	resp, body := f.get("GET", base+"/cached/result", map[string]string{"Authorization": cachedOnly})
	if err := json.Unmarshal(body, &doc); err != nil || resp.StatusCode != 200 || string(doc.Result) != "40" || resp.Header.Get("Age") != "5400" ||
		doc.RunInformation == nil || *doc.RunInformation.LastRunDate != "2026-11-18T10:30:00.000000+00:00" || *doc.RunInformation.LastRunStatus != 200 ||
		doc.RunInformation.NextRunDate != "2026-11-18T14:30:00.000000+00:00" {
		t.Fatalf("cached answer: %d %s %+v", resp.StatusCode, body, resp.Header)
	}
	// A key with filters gets its own answer, computed now.
	if st := f.do("GET", base+"/cached/result", onlyDay, "", &doc); st != 200 || string(doc.Result) != "24" {
		t.Fatalf("filtered key on a cached query: %d %s", st, doc.Result)
	}
	// A new definition does not serve the old one's cache.
	if st := f.do("PUT", base+"/cached", master, `{"query":{"analysis_type":"count","event_collection":"purchases","timeframe":"previous_24_hours"},"refresh_rate":14400}`, nil); st != 200 {
		t.Fatalf("replace: %d", st)
	}
	if st := f.do("GET", base+"/cached/result", read, "", &doc); st != 200 || string(doc.Result) != "24" || doc.RunInformation.LastRunDate != nil {
		t.Fatalf("after replace: %d %+v", st, doc)
	}
}

func TestAccessKeySavedQueryOptions(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	cases := []struct{ options, want string }{
		{`{"saved_queries":{"allowed":"day"}}`, "options.saved_queries"},
		{`{"saved_queries":{"only":["day"]}}`, "unknown field"},
		{`{"saved_queries":{"filters":[{"property_name":"x","operator":"like","property_value":1}]}}`, "operator"},
		{`{"cached_queries":{"filters":[]}}`, `"filters"`},
		{`{"cached_queries":{"blocked":[""]}}`, "empty saved query name"},
		{`{"datasets":{"operations":["write"]}}`, "options.datasets.operations"},
	}
	for _, c := range cases {
		var e keenError
		st := f.do("POST", "/3.0/projects/"+p.ID+"/keys", p.APIKeys["master"], `{"name":"k","permitted":["saved_queries"],"options":`+c.options+`}`, &e)
		if st != 400 || e.ErrorCode != "InvalidRequestError" || !strings.Contains(e.Message, c.want) {
			t.Errorf("options %s: %d %+v, want 400 naming %s", c.options, st, e, c.want)
		}
	}
}

func TestSavedQueryAndDatasetBounds(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	master := p.APIKeys["master"]
	base := "/3.0/projects/" + p.ID
	for i := 0; i < saved.MaxCachedQueries; i++ {
		if st := f.do("PUT", fmt.Sprintf("%s/queries/saved/c%d", base, i), master, `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":14400}`, nil); st != 201 {
			t.Fatalf("cached query %d: %d", i, st)
		}
	}
	var e keenError
	if st := f.do("PUT", base+"/queries/saved/one-more", master, `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":14400}`, &e); st != 400 || e.ErrorCode != "OverCachedQueryLimitError" {
		t.Fatalf("one cached query too many: %d %+v", st, e)
	}
	if st := f.do("PUT", base+"/queries/saved/one-more", master, `{"query":{"analysis_type":"count","event_collection":"c"}}`, nil); st != 201 {
		t.Fatalf("a saved query that is not cached: %d", st)
	}
	if st := f.do("PUT", base+"/queries/saved/c0", master, `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":172800}`, nil); st != 200 {
		t.Fatalf("replacing a cached query at the bound: %d", st)
	}
	for i := 0; i < dataset.MaxDatasets; i++ {
		if st := f.do("PUT", fmt.Sprintf("%s/datasets/d%d", base, i), master, byTenant, nil); st != 201 {
			t.Fatalf("dataset %d: %d", i, st)
		}
	}
	if st := f.do("PUT", base+"/datasets/one-more", master, byTenant, &e); st != 400 || e.ErrorCode != "OverDatasetLimitError" {
		t.Fatalf("one dataset too many: %d %+v", st, e)
	}
	if st := f.do("PUT", base+"/datasets/d0", master, byTenant, nil); st != 200 {
		t.Fatalf("replacing a dataset at the bound: %d", st)
	}
}

// TestSavedResultsShareTheQueryGate: saved query and dataset results
// computed when asked count against the project's concurrent queries, as
// the query API's do; a cached answer does not.
func TestSavedResultsShareTheQueryGate(t *testing.T) {
	held := &heldStore{Model: storetest.NewModel(), started: make(chan struct{}, 16), release: make(chan struct{})}
	f := newFixture(t, func(c *httpapi.Config) { c.Store = held })
	p := f.createProject("busy")
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	base := "/3.0/projects/" + p.ID
	for _, put := range []struct{ path, body string }{
		{"/queries/saved/held", `{"query":{"analysis_type":"count","event_collection":"held"}}`},
		{"/queries/saved/free", `{"query":{"analysis_type":"count","event_collection":"c"}}`},
		{"/queries/saved/cached", `{"query":{"analysis_type":"count","event_collection":"c"},"refresh_rate":14400}`},
		{"/datasets/free", `{"display_name":"D","index_by":"u","query":{"analysis_type":"count","event_collection":"c","timeframe":"this_2_days","interval":"daily"}}`},
	} {
		if st := f.do("PUT", base+put.path, master, put.body, nil); st != 201 {
			t.Fatalf("create %s: %d", put.path, st)
		}
	}
	var sq registry.SavedQuery
	f.reg.Read(func(v *registry.View) { sq, _ = v.SavedQuery(p.ID, "cached") })
	if err := f.reg.PutSavedResult(context.Background(), registry.SavedResult{ProjectID: p.ID, Name: "cached", Version: sq.Version,
		RunAt: queryNow, Body: json.RawMessage(`{"result":3}`), Status: 200, Holder: "test"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range limits.MaxConcurrentQueriesPerProject {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st := f.do("GET", base+"/queries/saved/held/result", read, "", nil); st != 200 {
				t.Errorf("a held saved query: %d", st)
			}
		}()
	}
	for range limits.MaxConcurrentQueriesPerProject {
		select {
		case <-held.started:
		case <-time.After(30 * time.Second):
			t.Fatal("the held saved queries did not start")
		}
	}
	var e keenError
	if st := f.do("GET", base+"/queries/saved/free/result", read, "", &e); st != 429 || e.ErrorCode == "" {
		t.Errorf("a saved query over the gate: %d %+v", st, e)
	}
	if st := f.do("GET", base+"/datasets/free/results?index_by=x&timeframe=this_day", read, "", &e); st != 429 {
		t.Errorf("dataset results over the gate: %d %+v", st, e)
	}
	var doc savedDoc
	if st := f.do("GET", base+"/queries/saved/cached/result", read, "", &doc); st != 200 || string(doc.Result) != "3" {
		t.Errorf("a cached answer while the gate is full: %d %s", st, doc.Result)
	}
	close(held.release)
	wg.Wait()
	if st := f.do("GET", base+"/queries/saved/free/result", read, "", nil); st != 200 {
		t.Errorf("after the held ones ended: %d", st)
	}
}
