package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/health"
	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/registry/registrytest"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/duckdb"
)

const (
	orgID  = "0123456789abcdef01234567"
	orgKey = "org-secret-key-0123456789"
)

type fixture struct {
	t     *testing.T
	srv   *httptest.Server
	reg   *registry.Registry
	b     *backend.Backend
	store store.Store
	ids   int // the last keen.id (as a number) insert gave
}

// newFixture serves the API on the embedded log; opts may change its
// configuration.
func newFixture(t *testing.T, opts ...func(*httpapi.Config)) *fixture {
	t.Helper()
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	b := registrytest.Connect(t, log.Addrs())
	reg := registrytest.Open(t, b)
	st, err := duckdb.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k, err := httpapi.NewKafka(b, limits.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	cfg := httpapi.Config{Registry: reg, OrgID: orgID, OrgKey: orgKey,
		InboundBootstrap: "kafka.test:9092", OutboundBootstrap: "kafka.test:9093", Store: st,
		Events: k, Offsets: k, CAFile: "/etc/sluice/ca.pem",
		Now:    func() time.Time { return queryNow },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	api := httpapi.New(cfg)
	api.SetReady()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, reg: reg, b: b, store: cfg.Store}
}

// do sends a request and decodes the JSON answer into out (if non-nil).
func (f *fixture) do(method, path, key, body string, out any) int {
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
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// registryEnd is the registry topic's end offset: "nothing written" means it
// does not move.
func (f *fixture) registryEnd() int64 {
	f.t.Helper()
	ends, err := f.b.Admin().ListEndOffsets(context.Background(), registry.Topic)
	if err != nil {
		f.t.Fatal(err)
	}
	o, _ := ends.Lookup(registry.Topic, 0)
	return o.Offset
}

type project struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	APIKeys map[string]string `json:"api_keys"`
}

type keenError struct {
	Message   string `json:"message"`
	ErrorCode string `json:"error_code"`
}

func (f *fixture) createProject(name string) project {
	f.t.Helper()
	var p project
	if st := f.do("POST", "/3.0/organizations/"+orgID+"/projects", orgKey, `{"name":"`+name+`"}`, &p); st != 201 {
		f.t.Fatalf("create project: %d", st)
	}
	return p
}

func TestProvisioningAndKeys(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("Staging")
	if len(p.ID) != 24 || p.Name != "Staging" || len(p.APIKeys["master"]) != 64 || len(p.APIKeys["write"]) != 64 || len(p.APIKeys["read"]) != 64 {
		t.Fatalf("project = %+v", p)
	}
	var list []project
	if st := f.do("GET", "/3.0/organizations/"+orgID+"/projects", orgKey, "", &list); st != 200 || len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("list: %d %+v", st, list)
	}
	var got project
	if st := f.do("GET", "/3.0/projects/"+p.ID+"?api_key="+p.APIKeys["master"], "", "", &got); st != 200 || got.ID != p.ID {
		t.Fatalf("get with api_key: %d %+v", st, got)
	}

	master := p.APIKeys["master"]
	keys := "/3.0/projects/" + p.ID + "/keys"
	var k registry.AccessKey
	if st := f.do("POST", keys, master, `{"name":"tenant-a","permitted":["writes","queries"],"options":{"writes":{"autofill":{"tenant":"a"}}}}`, &k); st != 201 {
		t.Fatalf("create key: %d", st)
	}
	if len(k.Key) != 64 || k.ProjectID != p.ID || !k.IsActive || k.Options.Writes.Autofill["tenant"] != "a" {
		t.Fatalf("key = %+v", k)
	}
	// Keen returns every option, null when unset.
	var raw struct {
		Options map[string]any `json:"options"`
	}
	f.do("GET", keys+"/"+k.Key, master, "", &raw)
	for _, opt := range []string{"writes", "queries", "saved_queries", "cached_queries", "datasets"} {
		if _, ok := raw.Options[opt]; !ok {
			t.Errorf("options.%s missing from %v", opt, raw.Options)
		}
	}
	var listed []registry.AccessKey
	if st := f.do("GET", keys, master, "", &listed); st != 200 || len(listed) != 1 {
		t.Fatalf("list keys: %d %+v", st, listed)
	}
	// Full replace clears what is omitted.
	if st := f.do("POST", keys+"/"+k.Key, master, `{"name":"renamed","permitted":["queries"]}`, &k); st != 200 || k.Name != "renamed" || k.Options.Writes != nil || len(k.Permitted) != 1 {
		t.Fatalf("replace: %d %+v", st, k)
	}
	if st := f.do("POST", keys+"/"+k.Key+"/revoke", master, "", &k); st != 200 || k.IsActive {
		t.Fatalf("revoke: %d %+v", st, k)
	}
	if f.reg.Match(p.ID, k.Key).Kind != registry.KindNone {
		t.Fatal("revoked key still authenticates")
	}
	if st := f.do("POST", keys+"/"+k.Key+"/unrevoke", master, "", &k); st != 200 || !k.IsActive {
		t.Fatalf("unrevoke: %d %+v", st, k)
	}
	if st := f.do("DELETE", keys+"/"+k.Key, master, "", nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	var e keenError
	if st := f.do("GET", keys+"/"+k.Key, master, "", &e); st != 404 || e.ErrorCode != "ResourceNotFoundError" {
		t.Fatalf("get deleted: %d %+v", st, e)
	}
	if st := f.do("POST", keys+"/"+k.Key+"/unrevoke", master, "", &e); st != 404 {
		t.Fatalf("unrevoke deleted: %d", st)
	}

	// Streams.
	var s map[string]map[string]any
	if st := f.do("GET", "/3.0/projects/"+p.ID+"/streams/kafka", master, "", &s); st != 200 ||
		s["outbound"]["enabled"] != false || s["inbound"]["bootstrap_servers"] != "kafka.test:9092" ||
		s["outbound"]["bootstrap_servers"] != "kafka.test:9093" || s["inbound"]["username"] != p.ID ||
		s["inbound"]["security_protocol"] != "SASL_SSL" || s["outbound"]["sasl_mechanism"] != "PLAIN" {
		t.Fatalf("streams: %d %v", st, s)
	}
	if _, ok := s["inbound"]["enabled"]; ok {
		t.Error("inbound carries an enabled flag; only outbound can be switched")
	}
	if st := f.do("PUT", "/3.0/projects/"+p.ID+"/streams/kafka/outbound", master, `{"enabled":true}`, &s); st != 200 || s["outbound"]["enabled"] != true {
		t.Fatalf("enable outbound: %d %v", st, s)
	}
	if st, _ := f.reg.Streams(p.ID); !st.OutboundEnabled {
		t.Fatal("outbound not stored")
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	q := f.createProject("Q")
	master, write, read := p.APIKeys["master"], p.APIKeys["write"], p.APIKeys["read"]
	var k registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"w","permitted":["writes"]}`, &k)
	base := "/3.0/projects/" + p.ID
	unknown := "/3.0/projects/ffffffffffffffffffffffff"
	big := `{"name":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`

	cases := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"org: no key", "POST", "/3.0/organizations/" + orgID + "/projects", "", `{"name":"x"}`, 401, "InvalidApiKeyError"},
		{"org: wrong key", "GET", "/3.0/organizations/" + orgID + "/projects", "nope", "", 401, "InvalidApiKeyError"},
		{"org: project master key", "POST", "/3.0/organizations/" + orgID + "/projects", master, `{"name":"x"}`, 401, "InvalidApiKeyError"},
		{"org: unknown org", "POST", "/3.0/organizations/ffffffffffffffffffffffff/projects", orgKey, `{"name":"x"}`, 404, "ResourceNotFoundError"},
		{"org: malformed json", "POST", "/3.0/organizations/" + orgID + "/projects", orgKey, `{"name":`, 400, "InvalidRequestError"},
		{"org: no name", "POST", "/3.0/organizations/" + orgID + "/projects", orgKey, `{}`, 400, "InvalidRequestError"},
		{"org: oversized", "POST", "/3.0/organizations/" + orgID + "/projects", orgKey, big, 413, "RequestEntityTooLargeError"},
		{"project: no key", "GET", base, "", "", 401, "InvalidApiKeyError"},
		{"project: wrong key", "GET", base, strings.Repeat("0", 64), "", 401, "InvalidApiKeyError"},
		{"project: other project's master", "GET", base, q.APIKeys["master"], "", 401, "InvalidApiKeyError"},
		{"project: write key", "GET", base, write, "", 401, "AdminOnlyEndpointError"},
		{"project: read key", "GET", base, read, "", 401, "AdminOnlyEndpointError"},
		{"project: access key", "GET", base, k.Key, "", 401, "AdminOnlyEndpointError"},
		{"project: unknown", "GET", unknown, master, "", 404, "ResourceNotFoundError"},
		{"keys: write key creates", "POST", base + "/keys", write, `{"name":"x","permitted":["writes"]}`, 401, "AdminOnlyEndpointError"},
		{"keys: read key lists", "GET", base + "/keys", read, "", 401, "AdminOnlyEndpointError"},
		{"keys: wrong key", "GET", base + "/keys", "bad", "", 401, "InvalidApiKeyError"},
		{"keys: unknown project", "POST", unknown + "/keys", master, `{"name":"x","permitted":["writes"]}`, 404, "ResourceNotFoundError"},
		{"keys: malformed json", "POST", base + "/keys", master, `{"name":"x",`, 400, "InvalidRequestError"},
		{"keys: unknown permitted", "POST", base + "/keys", master, `{"name":"x","permitted":["deletes"]}`, 400, "InvalidRequestError"},
		{"keys: oversized", "POST", base + "/keys", master, big, 413, "RequestEntityTooLargeError"},
		{"keys: replace malformed", "POST", base + "/keys/" + k.Key, master, `[`, 400, "InvalidRequestError"},
		{"keys: replace unknown permitted", "POST", base + "/keys/" + k.Key, master, `{"name":"x","permitted":["root"]}`, 400, "InvalidRequestError"},
		{"keys: replace unknown key", "POST", base + "/keys/" + strings.Repeat("a", 64), master, `{"name":"x","permitted":["writes"]}`, 404, "ResourceNotFoundError"},
		{"keys: revoke by write key", "POST", base + "/keys/" + k.Key + "/revoke", write, "", 401, "AdminOnlyEndpointError"},
		{"keys: revoke unknown", "POST", base + "/keys/" + strings.Repeat("a", 64) + "/revoke", master, "", 404, "ResourceNotFoundError"},
		{"keys: delete by access key", "DELETE", base + "/keys/" + k.Key, k.Key, "", 401, "AdminOnlyEndpointError"},
		{"keys: other project's key", "GET", "/3.0/projects/" + q.ID + "/keys/" + k.Key, q.APIKeys["master"], "", 404, "ResourceNotFoundError"},
		{"streams: read key", "GET", base + "/streams/kafka", read, "", 401, "AdminOnlyEndpointError"},
		{"streams: malformed", "PUT", base + "/streams/kafka/outbound", master, `{"enabled":`, 400, "InvalidRequestError"},
		{"streams: no enabled", "PUT", base + "/streams/kafka/outbound", master, `{}`, 400, "InvalidRequestError"},
		{"streams: wrong type", "PUT", base + "/streams/kafka/outbound", master, `{"enabled":"yes"}`, 400, "InvalidRequestError"},
		{"streams: oversized", "PUT", base + "/streams/kafka/outbound", master, big, 413, "RequestEntityTooLargeError"},
		{"streams: unknown project", "PUT", unknown + "/streams/kafka/outbound", master, `{"enabled":true}`, 404, "ResourceNotFoundError"},
		{"no such path", "GET", "/3.0/nothing", master, "", 404, "ResourceNotFoundError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.registryEnd()
			var e keenError
			st := f.do(tc.method, tc.path, tc.key, tc.body, &e)
			if st != tc.status || e.ErrorCode != tc.code || e.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", st, e, tc.status, tc.code)
			}
			if after := f.registryEnd(); after != before {
				t.Fatalf("a refused request wrote %d registry records", after-before)
			}
			if strings.Contains(e.Message, "sluice.") {
				t.Fatalf("message leaks a backend name: %q", e.Message)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	api := httpapi.New(httpapi.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 503 {
		t.Fatalf("before ready: %d", rec.Code)
	}
	api.SetReady()
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("after ready: %d", rec.Code)
	}
}

func TestHealthzReportsComponents(t *testing.T) {
	report := health.Report{State: health.OK, Components: map[string]health.Status{"backend": {State: health.OK}}}
	api := httpapi.New(httpapi.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Health: func() health.Report { return report }})
	api.SetReady()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"backend":{"status":"ok"`) {
		t.Fatalf("all ok: %d %s", code, body)
	}
	report = health.Report{State: health.Degraded, Components: map[string]health.Status{
		"backend":  {State: health.OK},
		"pipeline": {State: health.Degraded, Detail: "a batch has failed 4 times: storing"},
	}}
	code, body := get("/healthz")
	if code != 503 || !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, "a batch has failed 4 times") {
		t.Fatalf("pipeline degraded: %d %s", code, body)
	}
	if code, _ := get("/livez"); code != 200 {
		t.Fatalf("livez while degraded: %d", code)
	}
}
