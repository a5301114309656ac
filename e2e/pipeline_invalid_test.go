package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// pipeEnv is a sluice with its pipeline on a real Apache Kafka broker, one
// project, and a producer on the Inbound listener with the write key.
type pipeEnv struct {
	brokers  []string
	sluice   *proc
	dir      string
	proj     httpProject
	base     string       // HTTP base URL of the project
	http     *http.Client // trusts sluice's CA (for an HTTP API served over HTTPS)
	producer *kgo.Client
}

func startPipeEnv(t *testing.T, name string, extraArgs ...string) *pipeEnv {
	t.Helper()
	c := kafkaCluster(t, 1, false)
	e := &pipeEnv{brokers: c.Bootstrap, dir: t.TempDir()}
	const orgID, orgKey = "0123456789abcdef01234567", "pipe-env-org-key-0123456789"
	args := append([]string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ","), "--org-id", orgID, "--org-key", orgKey}, localArgs(t)...)
	e.sluice = startSluice(t, e.dir, append(args, extraArgs...)...)
	tlsCfg, err := kraw.TLSConfig(filepath.Join(e.dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	e.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	e.proj = createProjectWith(t, e.http, e.sluice.HTTP, orgID, orgKey, name)
	e.base = e.sluice.HTTP + "/3.0/projects/" + e.proj.ID
	e.producer, err = kgo.NewClient(kgo.SeedBrokers(addrAfter(t, e.sluice, "Kafka Inbound:")), kgo.DialTLSConfig(tlsCfg),
		kgo.SASL(plain.Auth{User: e.proj.ID, Pass: e.proj.APIKeys["write"]}.AsMechanism()),
		kgo.ProducerBatchMaxBytes(1_000_000), kgo.RecordDeliveryTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.producer.Close)
	return e
}

// produce sends values to a collection through the Inbound listener, one
// acknowledged produce at a time (so their order in the raw topic is
// theirs).
func (e *pipeEnv) produce(t *testing.T, collection string, values ...[]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, v := range values {
		if err := e.producer.ProduceSync(ctx, &kgo.Record{Topic: collection, Value: v}).FirstErr(); err != nil {
			t.Fatalf("producing record %d (%d bytes) to %s: %v", i, len(v), collection, err)
		}
	}
}

// query runs a query with key and returns its result.
func (e *pipeEnv) query(t *testing.T, key, analysis, params string) json.RawMessage {
	t.Helper()
	st, body := httpDoWith(t, e.http, "POST", e.base+"/queries/"+analysis, key, params)
	if st != 200 {
		t.Fatalf("%s %s: %d %s", analysis, params, st, body)
	}
	var r struct{ Result json.RawMessage }
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%s: %s: %v", analysis, body, err)
	}
	return r.Result
}

func (e *pipeEnv) count(t *testing.T, params string) int {
	t.Helper()
	var n int
	if err := json.Unmarshal(e.query(t, e.proj.APIKeys["read"], "count", params), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitCount waits until collection counts n events, and fails if it
// counts more.
func (e *pipeEnv) waitCount(t *testing.T, collection string, n int) {
	t.Helper()
	params := fmt.Sprintf(`{"event_collection":%q}`, collection)
	deadline := time.Now().Add(2 * time.Minute)
	for got := e.count(t, params); got != n; got = e.count(t, params) {
		if got > n || time.Now().After(deadline) {
			t.Fatalf("%s: count = %d, want %d", collection, got, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// invalidCase is one class of invalid event and what its DLQ error says.
type invalidCase struct {
	name    string
	payload []byte
	errName string   // Keen's error name, the error's prefix
	says    []string // fragments the message must contain (the rule and where)
}

func invalidCases() []invalidCase {
	deep := strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001)
	long := strings.Repeat("n", 256)
	big := `{"pad":"` + strings.Repeat("x", 900_001) + `"}`
	return []invalidCase{
		{"invalid JSON", []byte(`{"broken": `), "InvalidEventError", []string{"invalid JSON"}},
		{"trailing garbage", []byte(`{"a":1} x`), "InvalidEventError", []string{"invalid JSON"}},
		{"an array", []byte(`[1, 2, 3]`), "InvalidEventError", []string{"must be a JSON object"}},
		{"a string", []byte(`"just a string"`), "InvalidEventError", []string{"must be a JSON object"}},
		{"a number", []byte(`42`), "InvalidEventError", []string{"must be a JSON object"}},
		{"duplicate property", []byte(`{"a":1,"a":2}`), "InvalidEventError", []string{`"a"`, "more than once"}},
		{"name starting with $", []byte(`{"$price":1}`), "InvalidPropertyNameError", []string{`"$price"`, `"$"`}},
		{"name with a dot", []byte(`{"a.b":1}`), "InvalidPropertyNameError", []string{`"a.b"`, "dots"}},
		{"nested bad name", []byte(`{"user":{"$x":1}}`), "InvalidPropertyNameError", []string{`"$x"`, "user"}},
		{"name of 256 characters", []byte(`{"` + long + `":1}`), "InvalidPropertyNameError", []string{"256 characters"}},
		{"empty name", []byte(`{"":1}`), "InvalidPropertyNameError", []string{"empty"}},
		{"array of objects", []byte(`{"items":[{"sku":"a"}]}`), "ListsOfNonPrimitivesNotAllowedError", []string{"items", "index 0"}},
		{"array of arrays", []byte(`{"m":[[1]]}`), "ListsOfNonPrimitivesNotAllowedError", []string{"m", "an array"}},
		{"keen not an object", []byte(`{"keen":5}`), "NamespaceTypeError", []string{`"keen" must be an object`}},
		{"unknown keen property", []byte(`{"keen":{"color":"red"}}`), "InvalidKeenNamespaceProperty", []string{"color"}},
		{"keen.timestamp not a date", []byte(`{"keen":{"timestamp":"yesterday"}}`), "InvalidPropertyValueError", []string{"keen.timestamp", `"yesterday"`}},
		{"keen.timestamp a number", []byte(`{"keen":{"timestamp":1700000000}}`), "InvalidPropertyValueError", []string{"keen.timestamp", "ISO-8601"}},
		{"uniqueness token too long", []byte(`{"keen":{"uniqueness_token":"` + strings.Repeat("u", 65) + `"}}`), "InvalidPropertyValueError", []string{"keen.uniqueness_token", "65"}},
		{"keen.location malformed", []byte(`{"keen":{"location":{"coordinates":[1]}}}`), "InvalidPropertyValueError", []string{"keen.location.coordinates"}},
		{"add-on input missing", []byte(`{"u":"https://a.com","keen":{"addons":[{"name":"keen:url_parser","output":"info"}]}}`), "InvalidAddOnError", []string{"keen:url_parser", `"input" is missing`}},
		{"unknown add-on", []byte(`{"keen":{"addons":[{"name":"keen:nope","input":{},"output":"x"}]}}`), "InvalidAddOnError", []string{"keen:nope"}},
		{"add-on output under keen", []byte(`{"u":"https://a.com","keen":{"addons":[{"name":"keen:url_parser","input":{"url":"u"},"output":"keen.info"}]}}`), "InvalidAddOnError", []string{"keen namespace"}},
		{"ip_to_geo without a database", []byte(`{"ip":"81.2.69.1","keen":{"addons":[{"name":"keen:ip_to_geo","input":{"ip":"ip"},"output":"geo"}]}}`), "InvalidAddOnError", []string{"keen:ip_to_geo", "GeoIP database"}},
		{"nested too deep", []byte(deep), "InvalidEventError", []string{"nested more than 1000 levels"}},
		{"oversize", []byte(big), "InvalidEventError", []string{"900000 bytes"}},
		{"not UTF-8", []byte("{\"s\":\"caf\xe9\"}"), "InvalidEventError", []string{"valid UTF-8"}},
	}
}

// TestInvalidEventsThroughInbound: every class of invalid event, produced
// through the Inbound listener with a real client between valid ones, with
// the project's Kafka Outbound enabled. Every valid event is stored (the
// pipeline keeps flowing past each invalid one), and each invalid one is
// on the collection's DLQ backend topic as {"event": <payload>, "error":
// <Keen error name>: <message>} (plus "event_base64" for a payload that
// is not UTF-8).
func TestInvalidEventsThroughInbound(t *testing.T) {
	e := startPipeEnv(t, "invalid")
	if st, body := httpDo(t, "PUT", e.base+"/streams/kafka/outbound", e.proj.APIKeys["master"], `{"enabled":true}`); st != 200 {
		t.Fatalf("enable outbound: %d %s", st, body)
	}
	cases := invalidCases()
	var values [][]byte
	for i, c := range cases {
		values = append(values, []byte(fmt.Sprintf(`{"n":%d}`, i)), c.payload)
	}
	values = append(values, []byte(fmt.Sprintf(`{"n":%d}`, len(cases))))
	e.produce(t, "mixed", values...)
	e.waitCount(t, "mixed", len(cases)+1)
	// Each valid event, by its n: none lost around an invalid one.
	for i := 0; i <= len(cases); i++ {
		if got := e.count(t, fmt.Sprintf(`{"event_collection":"mixed","filters":[{"property_name":"n","operator":"eq","property_value":%d}]}`, i)); got != 1 {
			t.Errorf("valid event n=%d stored %d times", i, got)
		}
	}

	dlq := tenancy.BackendOutboundTopic(e.proj.ID, tenancy.DLQTopicName(tenancy.OutboundTopicName("mixed")))
	recs := readCommitted(t, e.brokers, dlq, len(cases))
	if len(recs) != len(cases) {
		t.Fatalf("%s holds %d records, want %d", dlq, len(recs), len(cases))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		var m map[string]string
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("DLQ record is not a JSON object of strings: %.300s (%v)", r.Value, err)
		}
		c, ok := matchCase(cases, m)
		if !ok {
			t.Errorf("DLQ record matches no invalid event sent: %.300s", r.Value)
			continue
		}
		if seen[c.name] {
			t.Errorf("%s: in the DLQ twice", c.name)
		}
		seen[c.name] = true
		wantKeys := []string{"error", "event"}
		if c.name == "not UTF-8" {
			wantKeys = []string{"error", "event", "event_base64"}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("%s: DLQ record keys %q, want %q", c.name, keys, wantKeys)
		}
		if !strings.HasPrefix(m["error"], c.errName+": ") {
			t.Errorf("%s: error %q, want it to start with %q", c.name, m["error"], c.errName+": ")
		}
		for _, s := range c.says {
			if !strings.Contains(m["error"], s) {
				t.Errorf("%s: error %q does not say %q", c.name, m["error"], s)
			}
		}
	}
	for _, c := range cases {
		if !seen[c.name] {
			t.Errorf("%s: no DLQ record", c.name)
		}
	}
}

// matchCase finds the case whose payload a DLQ record carries: the
// payload itself as "event", or for bytes that are not UTF-8, in
// "event_base64".
func matchCase(cases []invalidCase, m map[string]string) (invalidCase, bool) {
	for _, c := range cases {
		if b64, ok := m["event_base64"]; ok {
			if raw, err := base64.StdEncoding.DecodeString(b64); err == nil && string(raw) == string(c.payload) {
				return c, true
			}
			continue
		}
		if m["event"] == string(c.payload) {
			return c, true
		}
	}
	return invalidCase{}, false
}
