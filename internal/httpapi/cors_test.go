package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestCORS: a browser's preflight for any Keen API endpoint is answered
// without a key, allowing the methods and headers Keen's browser SDKs use;
// every Keen API answer, errors included, allows any origin; sluice's own
// endpoints do not.
func TestCORS(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	preflight := map[string]string{
		"Origin":                         "https://app.example",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization,content-type,keen-sdk",
	}
	for _, path := range []string{
		"/3.0/projects/" + p.ID + "/events/purchases",
		"/3.0/projects/" + p.ID + "/events",
		"/3.0/projects/" + p.ID + "/queries/count",
		"/3.0/projects/" + p.ID + "/keys/abc",
		"/3.0/projects/ffffffffffffffffffffffff/events/x",
	} {
		resp, body := f.get("OPTIONS", path, preflight)
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("preflight %s: %d %v %q", path, resp.StatusCode, h, body)
		}
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
				t.Errorf("preflight %s: %s not allowed: %q", path, m, h.Get("Access-Control-Allow-Methods"))
			}
		}
		allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
		for _, want := range strings.Split(preflight["Access-Control-Request-Headers"], ",") {
			if !strings.Contains(allowed, want) {
				t.Errorf("preflight %s: header %s not allowed: %q", path, want, allowed)
			}
		}
		if h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("preflight %s: no max age", path)
		}
	}

	origin := map[string]string{"Origin": "https://app.example", "Authorization": p.APIKeys["write"]}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/3.0/projects/" + p.ID + "/events", 401}, // the write key may not read the schema
		{"GET", "/3.0/projects/" + p.ID + "/keys", 401},   // admin only
		{"GET", "/3.0/projects/ffffffffffffffffffffffff", 404},
		{"GET", "/3.0/nothing", 404},
	} {
		resp, body := f.get(tc.method, tc.path, origin)
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			resp.Header.Get("Access-Control-Expose-Headers") != "Retry-After" {
			t.Errorf("%s %s: %d %v %s", tc.method, tc.path, resp.StatusCode, resp.Header, body)
		}
	}
	if st, body := f.post("/3.0/projects/"+p.ID+"/events/purchases", p.APIKeys["write"], `{"a":1}`, map[string]string{"Origin": "https://app.example"}); st != 201 {
		t.Fatalf("POST from a page: %d %s", st, body)
	}
	for _, path := range []string{"/healthz", "/livez"} {
		resp, _ := f.get("GET", path, map[string]string{"Origin": "https://app.example"})
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s allows origin %q; only the Keen API is for other origins", path, v)
		}
		if resp, _ := f.get("OPTIONS", path, preflight); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("OPTIONS %s answered as a CORS preflight", path)
		}
	}
}
