package httpapi_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// modelFixture serves the API with storetest's model store (which answers
// every analysis) instead of DuckDB.
func modelFixture(t *testing.T) *fixture {
	m := storetest.NewModel()
	f := newFixture(t, func(c *httpapi.Config) { c.Store = m })
	f.store = m
	return f
}

// raw sends a request and returns the status and the body as sent.
func (f *fixture) raw(method, path, key, body string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestQueryAnalyses serves every analysis, as a JSON body and as URL
// parameters the way Keen's SDKs send them (JSON-valued parameters as JSON
// text; the key as api_key).
func TestQueryAnalyses(t *testing.T) {
	f := modelFixture(t)
	p := f.createProject("P")
	f.seed(p.ID, 48) // purchases i = 0..47, hourly back from queryNow, tenant a (even i) or b, price i
	base := "/3.0/projects/" + p.ID + "/queries/"
	read := p.APIKeys["read"]
	const c = `"event_collection":"purchases"`
	tf := func(start, end string) string {
		return `"timeframe":{"start":"` + start + `T00:00:00.000Z","end":"` + end + `T00:00:00.000Z"}`
	}
	get := func(params ...string) string {
		v := url.Values{"api_key": {read}, "event_collection": {"purchases"}}
		for i := 0; i < len(params); i += 2 {
			v.Set(params[i], params[i+1])
		}
		return "?" + v.Encode()
	}
	cases := []struct {
		name, method, analysis, query, body, want string
	}{
		{"count", "POST", "count", "", `{` + c + `}`, `{"result":48}`},
		{"count_unique", "POST", "count_unique", "", `{` + c + `,"target_property":"tenant"}`, `{"result":2}`},
		{"sum", "POST", "sum", "", `{` + c + `,"target_property":"price"}`, `{"result":1128}`},
		{"average", "POST", "average", "", `{` + c + `,"target_property":"price"}`, `{"result":23.5}`},
		{"minimum", "POST", "minimum", "", `{` + c + `,"target_property":"price"}`, `{"result":0}`},
		{"maximum", "POST", "maximum", "", `{` + c + `,"target_property":"price"}`, `{"result":47}`},
		{"median", "POST", "median", "", `{` + c + `,"target_property":"price"}`, `{"result":23}`},
		{"percentile", "POST", "percentile", "", `{` + c + `,"target_property":"price","percentile":90}`, `{"result":42}`},
		{"standard_deviation", "POST", "standard_deviation", "", `{` + c + `,"target_property":"price","filters":[{"property_name":"price","operator":"in","property_value":[1,3]}]}`, `{"result":1}`},
		{"select_unique", "POST", "select_unique", "", `{` + c + `,"target_property":"tenant"}`, `{"result":["a","b"]}`},
		{"group_by, order_by, limit", "POST", "sum", "", `{` + c + `,"target_property":"price","group_by":"tenant","order_by":{"property_name":"result","direction":"DESC"},"limit":1}`,
			`{"result":[{"tenant":"b","result":576}]}`},
		{"interval", "POST", "count", "", `{` + c + `,"timeframe":"this_2_days","interval":"daily"}`,
			`{"result":[{` + tf("2026-11-17", "2026-11-18") + `,"value":24},{` + tf("2026-11-18", "2026-11-19") + `,"value":12}]}`},
		{"multi_analysis", "POST", "multi_analysis", "", `{` + c + `,"group_by":"tenant","analyses":{"n":{"analysis_type":"count"},"top":{"analysis_type":"maximum","target_property":"price"}}}`,
			`{"result":[{"tenant":"a","n":24,"top":46},{"tenant":"b","n":24,"top":47}]}`},
		{"funnel", "POST", "funnel", "", `{"steps":[{"event_collection":"purchases","actor_property":"tenant"},` +
			`{"event_collection":"purchases","actor_property":"tenant","with_actors":true,"filters":[{"property_name":"price","operator":"gte","property_value":47}]}]}`,
			`{"actors":[null,["b"]],"result":[2,1],"steps":[` +
				`{"actor_property":"tenant","event_collection":"purchases","filters":[],"inverted":false,"optional":false,"timeframe":null,"timezone":null,"with_actors":false},` +
				`{"actor_property":"tenant","event_collection":"purchases","filters":[{"property_name":"price","operator":"gte","property_value":47}],"inverted":false,"optional":false,"timeframe":null,"timezone":null,"with_actors":true}]}`},
		{"extraction property_names", "POST", "extraction", "", `{` + c + `,"property_names":["price"],"latest":2}`, `{"result":[{"price":1},{"price":0}]}`},
		// URL parameters, as KeenClient-Python and keen-gem send them.
		{"GET group_by list, order_by", "GET", "count", get("group_by", `["tenant"]`, "order_by", `[{"property_name":"tenant","direction":"DESC"}]`, "timeframe", "this_1_days"), "",
			`{"result":[{"tenant":"b","result":6},{"tenant":"a","result":6}]}`},
		{"GET percentile, timezone offset", "GET", "percentile", get("target_property", "price", "percentile", "50", "timeframe", "today", "timezone", "-28800"), "", `{"result":1}`},
		{"GET multi_analysis", "GET", "multi_analysis", get("analyses", `{"s":{"analysis_type":"sum","target_property":"price"}}`,
			"filters", `[{"property_name":"tenant","operator":"eq","property_value":"a"}]`), "", `{"result":{"s":552}}`},
		{"GET funnel", "GET", "funnel", "?api_key=" + read + "&steps=" + url.QueryEscape(`[{"event_collection":"purchases","actor_property":"tenant","timeframe":"this_2_hours"}]`), "",
			`{"result":[1],"steps":[{"actor_property":"tenant","event_collection":"purchases","filters":[],"inverted":false,"optional":false,"timeframe":"this_2_hours","timezone":null,"with_actors":false}]}`},
		{"GET extraction, one property name", "GET", "extraction", get("property_names", "tenant", "latest", "3"), "", `{"result":[{"tenant":"a"},{"tenant":"b"},{"tenant":"a"}]}`},
		{"POST with URL parameters too", "POST", "count", "?timeframe=this_1_hours", `{` + c + `}`, `{"result":0}`},
	}
	for _, tc := range cases {
		key := read
		if tc.method == "GET" {
			key = ""
		}
		st, got := f.raw(tc.method, base+tc.analysis+tc.query, key, tc.body)
		if st != 200 || got != tc.want {
			t.Errorf("%s: %d\n got %s\nwant %s", tc.name, st, got, tc.want)
		}
	}
}

// TestQueryRefusals: Keen's error names, with a message naming what is
// wrong.
func TestQueryRefusals(t *testing.T) {
	f := modelFixture(t)
	p := f.createProject("P")
	base := "/3.0/projects/" + p.ID + "/queries/"
	read := p.APIKeys["read"]
	const c = `"event_collection":"purchases"`
	cases := []struct {
		name, method, path, body string
		code, want               string
	}{
		{"unknown parameter", "POST", "count", `{` + c + `,"colour":"blue"}`, "InvalidQueryError", `"colour"`},
		{"unknown URL parameter", "GET", "count?event_collection=x&colour=blue", ``, "InvalidQueryError", `"colour"`},
		{"repeated URL parameter", "GET", "count?event_collection=x&event_collection=y", ``, "InvalidQueryError", `given 2 times`},
		{"in the URL and the body", "POST", "count?event_collection=x", `{` + c + `}`, "InvalidQueryError", `both in the URL and in the body`},
		{"bad timeframe", "POST", "count", `{` + c + `,"timeframe":"last_tuesday"}`, "TimeframeDefinitionError", `"last_tuesday"`},
		{"interval without timeframe", "POST", "count", `{` + c + `,"interval":"hourly"}`, "TimeframeDefinitionError", `"interval" needs a "timeframe"`},
		{"geo filter elsewhere", "POST", "count", `{` + c + `,"filters":[{"property_name":"where","operator":"within","property_value":{"coordinates":[0,0],"max_distance_miles":1}}]}`,
			"InvalidPropertyNameForGeoFilter", "keen.location.coordinates"},
		{"email", "POST", "extraction", `{` + c + `,"email":"me@example.com"}`, "InvalidQueryError", `"email"`},
		{"missing target_property", "POST", "average", `{` + c + `}`, "InvalidQueryError", `"target_property" is required`},
		{"bad analysis", "POST", "top_ten", `{` + c + `}`, "InvalidAnalysisTypeError", `"top_ten"`},
		{"limit without order_by", "POST", "count", `{` + c + `,"group_by":"a","limit":2}`, "InvalidQueryError", `"limit" is only allowed with "order_by"`},
	}
	for _, tc := range cases {
		var e keenError
		if st := f.do(tc.method, base+tc.path, read, tc.body, &e); st != 400 || e.ErrorCode != tc.code || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: %d %+v, want 400 %s containing %q", tc.name, st, e, tc.code, tc.want)
		}
	}
}

// TestQueryAccessKeyFunnel: an access key's query filters narrow every
// funnel step.
func TestQueryAccessKeyFunnel(t *testing.T) {
	f := modelFixture(t)
	p := f.createProject("P")
	f.seed(p.ID, 48)
	var k registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", p.APIKeys["master"], `{"name":"a only","permitted":["queries"],
		"options":{"queries":{"filters":[{"property_name":"tenant","operator":"eq","property_value":"a"}]}}}`, &k)
	st, got := f.raw("POST", "/3.0/projects/"+p.ID+"/queries/funnel", k.Key, `{"steps":[
		{"event_collection":"purchases","actor_property":"tenant"},
		{"event_collection":"purchases","actor_property":"tenant","inverted":true,"with_actors":true,"filters":[{"property_name":"price","operator":"gt","property_value":40}]}]}`)
	// Without the key's filter step 1 would be [a b] and step 2 (not
	// buying over 40) empty; with it: a only, and a bought 42, 44, 46.
	if st != 200 || !strings.HasPrefix(got, `{"actors":[null,[]],"result":[1,0],`) {
		t.Errorf("funnel with an access key: %d %s", st, got)
	}
}
