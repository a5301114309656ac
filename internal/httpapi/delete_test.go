package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// TestDeleteBuildsDeletion: each DELETE reaches the store as the Deletion
// it names, answered 204 with no body.
func TestDeleteBuildsDeletion(t *testing.T) {
	f, stub := newStubFixture(t)
	p := f.createProject("P")
	stub.schema[p.ID] = stubSchema()
	master := p.APIKeys["master"]
	base := "/3.0/projects/" + p.ID + "/events"
	filters := `[{"property_name":"item.price","operator":"gte","property_value":10}]`
	priceFilter := store.Filter{Path: []string{"item", "price"}, Operator: "gte", Value: json.Number("10")}
	// queryNow is 2026-11-18T12:00Z; this_2_days in UTC from the 17th.
	start, end := time.Date(2026, 11, 17, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)

	cases := []struct {
		name, path, body string
		want             store.Deletion
	}{
		{"whole collection", base + "/purchases", "",
			store.Deletion{ProjectID: p.ID, Collection: "purchases"}},
		{"filters", base + "/purchases?filters=" + url.QueryEscape(filters), "",
			store.Deletion{ProjectID: p.ID, Collection: "purchases", Events: &store.Query{ProjectID: p.ID, Collection: "purchases",
				Filters: []store.Filter{priceFilter}}}},
		{"relative timeframe and timezone", base + "/purchases?timeframe=this_2_days&timezone=UTC", "",
			store.Deletion{ProjectID: p.ID, Collection: "purchases", Events: &store.Query{ProjectID: p.ID, Collection: "purchases",
				Start: start, End: end}}},
		{"absolute timeframe", base + "/purchases?timeframe=" + url.QueryEscape(`{"start":"2026-11-17T00:00:00.000Z","end":"2026-11-19T00:00:00.000Z"}`), "",
			store.Deletion{ProjectID: p.ID, Collection: "purchases", Events: &store.Query{ProjectID: p.ID, Collection: "purchases",
				Start: start, End: end}}},
		// keen-analysis.js sends a DELETE's parameters in the body too.
		{"body repeating the parameters", base + "/purchases?timeframe=this_2_days&filters=" + url.QueryEscape(filters),
			`{"filters": [{"operator":"gte","property_name":"item.price","property_value":10}], "timeframe": "this_2_days"}`,
			store.Deletion{ProjectID: p.ID, Collection: "purchases", Events: &store.Query{ProjectID: p.ID, Collection: "purchases",
				Start: start, End: end, Filters: []store.Filter{priceFilter}}}},
		{"property", base + "/purchases/properties/item.price", "",
			store.Deletion{ProjectID: p.ID, Collection: "purchases", Property: []string{"item", "price"}}},
		{"property with a slash", base + "/purchases/properties/" + url.PathEscape("a/b c"), "",
			store.Deletion{ProjectID: p.ID, Collection: "purchases", Property: []string{"a/b c"}}},
		{"api_key parameter", base + "/signups?api_key=" + master, "",
			store.Deletion{ProjectID: p.ID, Collection: "signups"}},
	}
	for _, tc := range cases {
		before := len(stub.deleted())
		key := master
		if tc.name == "api_key parameter" {
			key = ""
		}
		var answer json.RawMessage
		if st := f.do("DELETE", tc.path, key, tc.body, &answer); st != 204 || len(answer) != 0 {
			t.Errorf("%s: %d %s, want 204 and no body", tc.name, st, answer)
			continue
		}
		got := stub.deleted()
		if len(got) != before+1 {
			t.Errorf("%s: %d deletions reached the store, want 1", tc.name, len(got)-before)
			continue
		}
		if d := got[len(got)-1]; !reflect.DeepEqual(d, tc.want) {
			t.Errorf("%s: deletion\n%+v (events %+v), want\n%+v (events %+v)", tc.name, d, d.Events, tc.want, tc.want.Events)
		}
	}
}

// TestDeleteRefusals: master key only (AdminOnlyEndpointError otherwise);
// unknown collections and properties 404; parameters outside filters,
// timeframe and timezone, a timezone without a timeframe, a body that says
// something else than the query string, Keen's own properties: 400. None
// reaches the store.
func TestDeleteRefusals(t *testing.T) {
	f, stub := newStubFixture(t)
	p, q := f.createProject("P"), f.createProject("Q")
	stub.schema[p.ID] = stubSchema()
	master := p.APIKeys["master"]
	var allKey registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master,
		`{"name":"all","permitted":["writes","queries","saved_queries","cached_queries","datasets","schema"]}`, &allKey)
	base := "/3.0/projects/" + p.ID + "/events"
	eq := url.QueryEscape(`[{"property_name":"plan","operator":"eq","property_value":"pro"}]`)
	cases := []struct {
		name, path, key, body string
		status                int
		code                  string
	}{
		{"no key", base + "/purchases", "", "", 401, "InvalidApiKeyError"},
		{"read key", base + "/purchases", p.APIKeys["read"], "", 401, "AdminOnlyEndpointError"},
		{"write key", base + "/purchases", p.APIKeys["write"], "", 401, "AdminOnlyEndpointError"},
		{"access key with every permission", base + "/purchases", allKey.Key, "", 401, "AdminOnlyEndpointError"},
		{"property: read key", base + "/purchases/properties/tags", p.APIKeys["read"], "", 401, "AdminOnlyEndpointError"},
		{"other project's master key", base + "/purchases", q.APIKeys["master"], "", 401, "InvalidApiKeyError"},
		{"unknown project", "/3.0/projects/ffffffffffffffffffffffff/events/purchases", master, "", 404, "ResourceNotFoundError"},
		{"unknown collection", base + "/nothing", master, "", 404, "ResourceNotFoundError"},
		{"unknown collection, filtered", base + "/nothing?filters=" + eq, master, "", 404, "ResourceNotFoundError"},
		{"unknown property", base + "/purchases/properties/nothing", master, "", 404, "ResourceNotFoundError"},
		{"property of an unknown collection", base + "/nothing/properties/tags", master, "", 404, "ResourceNotFoundError"},
		{"Keen's timestamp", base + "/purchases/properties/keen.timestamp", master, "", 400, "InvalidPropertyNameError"},
		{"the keen object", base + "/purchases/properties/keen", master, "", 400, "InvalidPropertyNameError"},
		{"unknown parameter", base + "/purchases?event_collection=purchases", master, "", 400, "InvalidRequestError"},
		{"property: a parameter", base + "/purchases/properties/tags?filters=" + eq, master, "", 400, "InvalidRequestError"},
		{"timezone alone", base + "/purchases?timezone=US/Pacific", master, "", 400, "InvalidQueryError"},
		// Parameters package query refuses: its error name (as the query API's).
		{"bad filters", base + "/purchases?filters=" + url.QueryEscape(`[{"property_name":"plan"}]`), master, "", 400,
			selectionError(t, `[{"property_name":"plan"}]`, "", "")},
		{"bad operator", base + "/purchases?filters=" + url.QueryEscape(`[{"property_name":"plan","operator":"like","property_value":"x"}]`), master, "", 400,
			selectionError(t, `[{"property_name":"plan","operator":"like","property_value":"x"}]`, "", "")},
		{"bad timeframe", base + "/purchases?timeframe=someday", master, "", 400, selectionError(t, "", `"someday"`, "")},
		{"bad timezone", base + "/purchases?timeframe=this_2_days&timezone=Mars/Olympus", master, "", 400,
			selectionError(t, "", `"this_2_days"`, `"Mars/Olympus"`)},
		{"filters only in the body", base + "/purchases", master, `{"filters":[{"property_name":"plan","operator":"eq","property_value":"pro"}]}`, 400, "InvalidRequestError"},
		{"body filters differ", base + "/purchases?filters=" + eq, master, `{"filters":[{"property_name":"plan","operator":"eq","property_value":"free"}]}`, 400, "InvalidRequestError"},
		{"body not JSON", base + "/purchases", master, `filters=x`, 400, "InvalidRequestError"},
		{"property: a body", base + "/purchases/properties/tags", master, `{"timeframe":"this_day"}`, 400, "InvalidRequestError"},
	}
	for _, tc := range cases {
		var e keenError
		if st := f.do("DELETE", tc.path, tc.key, tc.body, &e); st != tc.status || e.ErrorCode != tc.code || e.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, st, e, tc.status, tc.code)
		}
	}
	if d := stub.deleted(); len(d) != 0 {
		t.Fatalf("refused deletes reached the store: %+v", d)
	}
}

// selectionError is the error name package query gives the parameters
// (JSON; "" when not given), failing the test when it accepts them.
func selectionError(t *testing.T, filters, timeframe, timezone string) string {
	t.Helper()
	raw := func(s string) json.RawMessage {
		if s == "" {
			return nil
		}
		return json.RawMessage(s)
	}
	_, err := query.Selection("p", "c", raw(filters), raw(timeframe), raw(timezone), queryNow)
	var qe *query.Error
	if !errors.As(err, &qe) || qe.Name == "" {
		t.Fatalf("query.Selection(%s, %s, %s) = %v, want a named refusal", filters, timeframe, timezone, err)
	}
	return qe.Name
}

// TestDeletePropertyTooLarge: an engine's refusal to rewrite that many
// events is the client's 400 DeleteTooLargeError, not a server error.
func TestDeletePropertyTooLarge(t *testing.T) {
	f, stub := newStubFixture(t)
	p := f.createProject("P")
	stub.schema[p.ID] = stubSchema()
	stub.deleteErr = &store.RewriteTooLargeError{Events: 1_000_001, Max: 1_000_000}
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	st := f.do("DELETE", "/3.0/projects/"+p.ID+"/events/purchases/properties/item.price", p.APIKeys["master"], "", &e)
	if st != 400 || e.ErrorCode != httpapi.ErrDeleteTooLarge || !strings.Contains(e.Message, "1000001 events") {
		t.Fatalf("got %d %s %q; want 400 %s naming the events", st, e.ErrorCode, e.Message, httpapi.ErrDeleteTooLarge)
	}
}
