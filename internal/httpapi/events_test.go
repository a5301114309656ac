package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// rawRecord is an event as the HTTP API wrote it to a raw topic.
type rawRecord struct {
	raw   tenancy.Raw
	value string
}

// rawRecords reads every record of project pid's raw topics (the pipeline
// does not run in these tests, so they stay there).
func (f *fixture) rawRecords(pid string) []rawRecord {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := f.b.Admin().ListTopics(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var topics []string
	for name := range td {
		if r, ok := tenancy.ParseRawTopic(name); ok && r.ProjectID == pid {
			topics = append(topics, name)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	ends, err := f.b.Admin().ListEndOffsets(ctx, topics...)
	if err != nil {
		f.t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	cl, err := kgo.NewClient(f.b.Opts(kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		f.t.Fatal(err)
	}
	defer cl.Close()
	var out []rawRecord
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			f.t.Fatalf("read %d of %d raw records: %v", len(out), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			raw, _ := tenancy.ParseRawTopic(r.Topic)
			out = append(out, rawRecord{raw, string(r.Value)})
		})
	}
	return out
}

// post sends body with optional headers and returns status and raw answer.
func (f *fixture) post(path, key, body string, header map[string]string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func eventsPath(pid, collection string) string {
	return "/3.0/projects/" + pid + "/events/" + url.PathEscape(collection)
}

// TestRecordRefusals: every refusal answers Keen's status and error shape,
// and nothing reaches a raw topic.
func TestRecordRefusals(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	q := f.createProject("Q")
	master, read := p.APIKeys["master"], p.APIKeys["read"]
	var queryKey, revoked registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"q","permitted":["queries"]}`, &queryKey)
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"r","permitted":["writes"]}`, &revoked)
	f.do("POST", "/3.0/projects/"+p.ID+"/keys/"+revoked.Key+"/revoke", master, "", nil)
	write := p.APIKeys["write"]
	one := eventsPath(p.ID, "purchases")
	batch := "/3.0/projects/" + p.ID + "/events"
	tooMany := `{"a":[` + strings.TrimSuffix(strings.Repeat(`{},`, 5001), ",") + `]}`
	bigEvent := `{"s":"` + strings.Repeat("x", 900_000) + `"}`
	bigBatch := `{"a":[{"s":"` + strings.Repeat("x", 10_000_000) + `"}]}`

	cases := []struct {
		name, path, key, body string
		status                int
		code                  string
	}{
		{"no key", one, "", `{"a":1}`, 401, "InvalidApiKeyError"},
		{"wrong key", one, strings.Repeat("0", 64), `{"a":1}`, 401, "InvalidApiKeyError"},
		{"other project's write key", one, q.APIKeys["write"], `{"a":1}`, 401, "InvalidApiKeyError"},
		{"read key", one, read, `{"a":1}`, 401, "InvalidApiKeyError"},
		{"access key without writes", one, queryKey.Key, `{"a":1}`, 401, "InvalidApiKeyError"},
		{"revoked access key", one, revoked.Key, `{"a":1}`, 401, "InvalidApiKeyError"},
		{"unknown project", eventsPath("ffffffffffffffffffffffff", "purchases"), write, `{"a":1}`, 404, "ResourceNotFoundError"},
		{"batch: read key", batch, read, `{"a":[{}]}`, 401, "InvalidApiKeyError"},
		{"batch: no key", batch, "", `{"a":[{}]}`, 401, "InvalidApiKeyError"},
		{"invalid JSON", one, write, `{"a":`, 400, "InvalidEventError"},
		{"empty body", one, write, ``, 400, "InvalidEventError"},
		{"event is an array", one, write, `[{"a":1}]`, 400, "InvalidEventError"},
		{"event is a string", one, write, `"x"`, 400, "InvalidEventError"},
		{"event is null", one, write, `null`, 400, "InvalidEventError"},
		{"event over 900000 bytes", one, write, bigEvent, 413, "RequestEntityTooLargeError"},
		{"collection ends in -dlq", eventsPath(p.ID, "orders-dlq"), write, `{"a":1}`, 400, "InvalidCollectionNameError"},
		{"collection of 65 characters", eventsPath(p.ID, strings.Repeat("c", 65)), write, `{"a":1}`, 400, "InvalidCollectionNameError"},
		{"collection with a tab", eventsPath(p.ID, "a\tb"), write, `{"a":1}`, 400, "InvalidCollectionNameError"},
		{"collection not ASCII", eventsPath(p.ID, "café"), write, `{"a":1}`, 400, "InvalidCollectionNameError"},
		{"collection '.'", "/3.0/projects/" + p.ID + "/events/%2E", write, `{"a":1}`, 400, "InvalidCollectionNameError"},
		{"batch: invalid JSON", batch, write, `{"a":[{}]`, 400, "InvalidBatchError"},
		{"batch: not an object", batch, write, `[{"a":1}]`, 400, "InvalidBatchError"},
		{"batch: null", batch, write, `null`, 400, "InvalidBatchError"},
		{"batch: collection not a list", batch, write, `{"a":{"x":1}}`, 400, "InvalidBatchError"},
		{"batch: bad collection name", batch, write, `{"ok":[{}],"bad-dlq":[{}]}`, 400, "InvalidCollectionNameError"},
		{"batch: empty collection name", batch, write, `{"":[{}]}`, 400, "InvalidCollectionNameError"},
		{"batch: too many events", batch, write, tooMany, 400, "InvalidBatchError"},
		{"batch: over 10000000 bytes", batch, write, bigBatch, 413, "RequestEntityTooLargeError"},
	}
	for _, tc := range cases {
		st, body := f.post(tc.path, tc.key, tc.body, nil)
		var e keenError
		if err := json.Unmarshal([]byte(body), &e); err != nil || st != tc.status || e.ErrorCode != tc.code || e.Message == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, body, tc.status, tc.code)
		}
		if strings.Contains(body, "sluice.") {
			t.Errorf("%s: answer leaks a backend name: %s", tc.name, body)
		}
	}
	if recs := f.rawRecords(p.ID); len(recs) != 0 {
		t.Fatalf("refused requests wrote %d raw records: %v", len(recs), recs)
	}
	if recs := f.rawRecords("ffffffffffffffffffffffff"); len(recs) != 0 {
		t.Fatalf("an unknown project got raw records")
	}
}

// TestRecordSingle: 201 {"created": true} for every key that may write,
// Keen's error for an invalid event (which is written for the DLQ), the
// placeholders substituted, autofill keys on their own raw topics, names
// outside Kafka's character set on their encoded raw topic.
func TestRecordSingle(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	master := p.APIKeys["master"]
	var plainKey, autofillKey registry.AccessKey
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master, `{"name":"w","permitted":["writes"]}`, &plainKey)
	f.do("POST", "/3.0/projects/"+p.ID+"/keys", master,
		`{"name":"t","permitted":["writes"],"options":{"writes":{"autofill":{"tenant":"t1"}}}}`, &autofillKey)

	type want struct {
		status int
		answer string
	}
	created := want{201, `{"created":true}`}
	cases := []struct {
		name, collection, key, body string
		header                      map[string]string
		want                        want
		topicKeyID                  string // "" or the autofill key's id
		stored                      string // the raw record's value
	}{
		{"write key", "purchases", p.APIKeys["write"], `{"price": 25.5}`, nil, created, "", `{"price": 25.5}`},
		{"master key", "purchases", master, `{"n":1}`, nil, created, "", `{"n":1}`},
		{"access key with writes", "purchases", plainKey.Key, `{"n":2}`, nil, created, "", `{"n":2}`},
		{"access key with autofill", "purchases", autofillKey.Key, `{"n":3}`, nil, created, tenancy.KeyID(autofillKey.Key), `{"n":3}`},
		{"seed's collection", "$my collection$ %", p.APIKeys["write"], `{"n":4}`, nil, created, "", `{"n":4}`},
		{"slash and question mark", "a/b?c", p.APIKeys["write"], `{"n":5}`, nil, created, "", `{"n":5}`},
		{"placeholders", "visits", p.APIKeys["write"], `{"ip":"${keen.ip}","ua":"${keen.user_agent}","keep":"${keen.ip} "}`,
			map[string]string{"User-Agent": "Mozilla/5.0 (X11) test"}, created, "",
			`{"ip":"127.0.0.1","ua":"Mozilla/5.0 (X11) test","keep":"${keen.ip} "}`},
		{"invalid property name", "purchases", p.APIKeys["write"], `{"a.b":1}`, nil,
			want{400, `{"error_code":"InvalidPropertyNameError","message":"property name \"a.b\" contains \".\"; Keen property names may not contain dots (dots denote nesting)"}`},
			"", `{"a.b":1}`},
		{"keen namespace", "purchases", p.APIKeys["write"], `{"keen":{"nope":1}}`, nil,
			want{400, `{"error_code":"InvalidKeenNamespaceProperty","message":"keen.nope is not allowed: clients may set only keen.timestamp, keen.location, keen.addons and keen.uniqueness_token (keen.id and keen.created_at are set by sluice)"}`},
			"", `{"keen":{"nope":1}}`},
	}
	for _, tc := range cases {
		st, body := f.post(eventsPath(p.ID, tc.collection), tc.key, tc.body, tc.header)
		if st != tc.want.status || !jsonEqual(body, tc.want.answer) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, body, tc.want.status, tc.want.answer)
		}
	}
	// api_key in the query string works too.
	if st, body := f.post(eventsPath(p.ID, "purchases")+"?api_key="+p.APIKeys["write"], "", `{"n":6}`, nil); st != 201 {
		t.Errorf("api_key parameter: %d %s", st, body)
	}

	recs := f.rawRecords(p.ID)
	for _, tc := range cases {
		found := false
		for _, r := range recs {
			found = found || (r.raw.Collection == tc.collection && r.raw.KeyID == tc.topicKeyID && r.value == tc.stored)
		}
		if !found {
			t.Errorf("%s: no raw record %s in collection %q (key id %q); have %v", tc.name, tc.stored, tc.collection, tc.topicKeyID, recs)
		}
	}
	if len(recs) != len(cases)+1 {
		t.Errorf("%d raw records, want %d", len(recs), len(cases)+1)
	}
}

// TestRecordBatch: 200 with one result per event in input order, Keen's
// per-event error shape, and exactly the JSON objects written.
func TestRecordBatch(t *testing.T) {
	f := newFixture(t)
	p := f.createProject("P")
	body := `{
		"purchases": [{"item":"a"}, {"bad.name":1}, 42, {"item":"b"}, [1]],
		"$my collection$ %": [{"ip":"${keen.ip}"}],
		"empty": []
	}`
	st, answer := f.post("/3.0/projects/"+p.ID+"/events", p.APIKeys["write"], body, nil)
	want := `{
		"purchases": [
			{"success": true},
			{"success": false, "error": {"name": "InvalidPropertyNameError", "description": "property name \"bad.name\" contains \".\"; Keen property names may not contain dots (dots denote nesting)"}},
			{"success": false, "error": {"name": "InvalidEventError", "description": "an event must be a JSON object, not a number"}},
			{"success": true},
			{"success": false, "error": {"name": "InvalidEventError", "description": "an event must be a JSON object, not an array"}}
		],
		"$my collection$ %": [{"success": true}],
		"empty": []
	}`
	if st != 200 || !jsonEqual(answer, want) {
		t.Fatalf("batch: %d %s\nwant %s", st, answer, want)
	}
	var got []string
	for _, r := range f.rawRecords(p.ID) {
		got = append(got, r.raw.Collection+" "+r.value)
	}
	sort.Strings(got)
	wantRecs := []string{`$my collection$ % {"ip":"127.0.0.1"}`, `purchases {"bad.name":1}`, `purchases {"item":"a"}`, `purchases {"item":"b"}`}
	if !reflect.DeepEqual(got, wantRecs) {
		t.Errorf("raw records %q, want %q", got, wantRecs)
	}

	// An empty batch is answered and writes nothing.
	if st, answer := f.post("/3.0/projects/"+p.ID+"/events", p.APIKeys["write"], `{}`, nil); st != 200 || answer != "{}\n" {
		t.Errorf("empty batch: %d %q", st, answer)
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestRecordOverQuota: with a produce quota of 10,000 bytes/s, an event
// past the project's burst is still recorded, and the project's next
// requests are answered 429 TooManyRequestsError with Retry-After until its
// debt is repaid; another project records as usual.
func TestRecordOverQuota(t *testing.T) {
	f := newFixture(t, func(c *httpapi.Config) { c.ProduceQuota = quota.New(10_000, time.Second) })
	p, q := f.createProject("P"), f.createProject("Q")
	big := `{"pad":"` + strings.Repeat("x", 30_000) + `"}`
	if st, body := f.post("/3.0/projects/"+p.ID+"/events/orders", p.APIKeys["write"], big, nil); st != 201 {
		t.Fatalf("the event that passes the quota: %d %s", st, body)
	}
	for _, path := range []string{"/events/orders", "/events"} {
		body := `{"n":1}`
		if path == "/events" {
			body = `{"orders":[{"n":1}]}`
		}
		req, _ := http.NewRequest("POST", f.srv.URL+"/3.0/projects/"+p.ID+path, strings.NewReader(body))
		req.Header.Set("Authorization", p.APIKeys["write"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != 429 || !strings.Contains(string(answer), `"TooManyRequestsError"`) || retry < 1 || retry > 3 {
			t.Fatalf("%s over the quota: %d, Retry-After %q, %s", path, resp.StatusCode, resp.Header.Get("Retry-After"), answer)
		}
	}
	if st, body := f.post("/3.0/projects/"+q.ID+"/events/orders", q.APIKeys["write"], `{"n":1}`, nil); st != 201 {
		t.Fatalf("another project: %d %s", st, body)
	}
	if got := len(f.rawRecords(p.ID)); got != 1 {
		t.Fatalf("%d of P's events written, want the accepted one only", got)
	}
}
