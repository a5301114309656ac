package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestHTTPEventsThroughPipeline: events recorded over the HTTP Stream API on
// a real Apache Kafka backend go through the raw topics and the pipeline
// like Kafka-produced ones: single and batch events (and one produced over
// Kafka Inbound to the same collection) are counted by the query API, the
// placeholders and an access key's autofill are applied, a collection
// outside Kafka's character set gets a raw topic created like the
// gateway's, and the invalid events reach the collection's DLQ backend
// topic while Kafka Outbound is enabled.
func TestHTTPEventsThroughPipeline(t *testing.T) {
	c := kafkaCluster(t, 1, false)
	dir := t.TempDir()
	const orgID, orgKey = "0123456789abcdef01234567", "http-events-org-key-0123456789"
	args := append([]string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ","), "--org-id", orgID, "--org-key", orgKey}, localArgs(t)...)
	p := startSluice(t, dir, args...)
	proj := createProject(t, p.HTTP, orgID, orgKey, "http-events")
	master, write, read := proj.APIKeys["master"], proj.APIKeys["write"], proj.APIKeys["read"]
	base := p.HTTP + "/3.0/projects/" + proj.ID
	if st, body := httpDo(t, "PUT", base+"/streams/kafka/outbound", master, `{"enabled":true}`); st != 200 {
		t.Fatalf("enable outbound: %d %s", st, body)
	}
	st, body := httpDo(t, "POST", base+"/keys", master,
		`{"name":"tenant","permitted":["writes"],"options":{"writes":{"autofill":{"tenant":{"id":"t1"}}}}}`)
	if st != 201 {
		t.Fatalf("create key: %d %s", st, body)
	}
	var tenantKey struct{ Key string }
	_ = json.Unmarshal([]byte(body), &tenantKey)

	const seed = "$my collection$ %"
	one := func(collection, key, event string, header map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/events/"+url.PathEscape(collection), strings.NewReader(event))
		req.Header.Set("Authorization", key)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	created := func(st int, body string) {
		t.Helper()
		if st != 201 || strings.TrimSpace(body) != `{"created":true}` {
			t.Fatalf("single event: %d %s", st, body)
		}
	}
	created(one("purchases", write, `{"n":1}`, nil))
	created(one("purchases", master, `{"n":2}`, nil))
	created(one("purchases", tenantKey.Key, `{"n":3,"tenant":{"id":"forged"}}`, nil))
	created(one(seed, write, `{"ip":"${keen.ip}","ua":"${keen.user_agent}"}`, map[string]string{"User-Agent": "sluice-e2e/1.0"}))
	if st, body := one("purchases", write, `{"bad.name":1}`, nil); st != 400 || !strings.Contains(body, `"InvalidPropertyNameError"`) {
		t.Fatalf("invalid single event: %d %s", st, body)
	}
	if st, body := one("purchases", read, `{"n":0}`, nil); st != 401 {
		t.Fatalf("read key wrote: %d %s", st, body)
	}

	st, body = httpDo(t, "POST", base+"/events", write,
		`{"purchases":[{"n":4},{"keen":{"nope":1}},{"n":5},7],"`+seed+`":[{"n":6}]}`)
	var batch map[string][]struct {
		Success bool `json:"success"`
		Error   *struct{ Name, Description string }
	}
	if err := json.Unmarshal([]byte(body), &batch); st != 200 || err != nil {
		t.Fatalf("batch: %d %s", st, body)
	}
	var shape []string
	for _, col := range []string{"purchases", seed} {
		for _, r := range batch[col] {
			if r.Success {
				shape = append(shape, col+": ok")
			} else {
				shape = append(shape, col+": "+r.Error.Name)
			}
		}
	}
	wantShape := []string{"purchases: ok", "purchases: InvalidKeenNamespaceProperty", "purchases: ok", "purchases: InvalidEventError", seed + ": ok"}
	if !reflect.DeepEqual(shape, wantShape) {
		t.Fatalf("batch results %q, want %q (%s)", shape, wantShape, body)
	}

	// One event over Kafka Inbound to the same collection: one raw topic
	// family, one count.
	tlsCfg, err := kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(addrAfter(t, p, "Kafka Inbound:")), kgo.DialTLSConfig(tlsCfg),
		kgo.SASL(plain.Auth{User: proj.ID, Pass: write}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "purchases", Value: []byte(`{"n":7}`)}).FirstErr(); err != nil {
		t.Fatalf("producing over Kafka Inbound: %v", err)
	}
	producer.Close()

	count := func(collection string) int {
		q, _ := json.Marshal(map[string]string{"event_collection": collection})
		st, body := httpDo(t, "POST", base+"/queries/count", read, string(q))
		var r struct{ Result int }
		if st != 200 || json.Unmarshal([]byte(body), &r) != nil {
			return -1
		}
		return r.Result
	}
	// purchases: n = 1, 2, 3 (single), 4, 5 (batch), 7 (Kafka); the seed's
	// collection: the placeholder event and n = 6.
	for _, w := range []struct {
		collection string
		n          int
	}{{"purchases", 6}, {seed, 2}} {
		deadline := time.Now().Add(90 * time.Second)
		for got := count(w.collection); got != w.n; got = count(w.collection) {
			if time.Now().After(deadline) || got > w.n {
				t.Fatalf("count(%q) = %d, want %d\nsluice stderr:\n%s", w.collection, got, w.n, p.stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	extract := func(collection, filters string) []map[string]any {
		t.Helper()
		q := fmt.Sprintf(`{"event_collection":%q,"filters":%s}`, collection, filters)
		st, body := httpDo(t, "POST", base+"/queries/extraction", read, q)
		var r struct{ Result []map[string]any }
		if st != 200 || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("extraction: %d %s", st, body)
		}
		return r.Result
	}
	if evs := extract(seed, `[{"property_name":"ua","operator":"exists","property_value":true}]`); len(evs) != 1 ||
		evs[0]["ip"] != "127.0.0.1" || evs[0]["ua"] != "sluice-e2e/1.0" {
		t.Errorf("placeholders: %v", evs)
	}
	if evs := extract("purchases", `[{"property_name":"n","operator":"eq","property_value":3}]`); len(evs) != 1 ||
		!reflect.DeepEqual(evs[0]["tenant"], map[string]any{"id": "t1"}) {
		t.Errorf("autofill over HTTP: %v", evs)
	}

	// The backend side, read directly.
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	rawSeed := tenancy.RawTopic(proj.ID, "", seed)
	td, err := adm.ListTopics(ctx, rawSeed)
	if err != nil || len(td[rawSeed].Partitions) != 9 {
		t.Errorf("raw topic of %q: %v %v", seed, td, err)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, rawSeed)
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := cfgs.On(rawSeed, nil); err != nil || !hasConfig(rc.Configs, "max.message.bytes", "1048588") {
		t.Errorf("raw topic %s configs: %+v %v", rawSeed, rc, err)
	}

	// Both invalid events recorded over HTTP (and answered with their
	// errors) reach purchases-dlq.
	dlqTopic := tenancy.BackendOutboundTopic(proj.ID, "purchases-dlq")
	dlq := readTopic(t, ctx, c.Bootstrap, dlqTopic, 2)
	var got []string
	for _, v := range dlq {
		var d struct{ Event, Error string }
		if err := json.Unmarshal(v, &d); err != nil {
			t.Fatalf("DLQ record %s: %v", v, err)
		}
		got = append(got, d.Event+" → "+strings.SplitN(d.Error, ":", 2)[0])
	}
	sort.Strings(got)
	want := []string{`{"bad.name":1} → InvalidPropertyNameError`, `{"keen":{"nope":1}} → InvalidKeenNamespaceProperty`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DLQ %q, want %q", got, want)
	}
}

func hasConfig(cs []kadm.Config, name, value string) bool {
	for _, c := range cs {
		if c.Key == name && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// readTopic reads n records of a backend topic from its start.
func readTopic(t *testing.T, ctx context.Context, bootstrap []string, topic string, n int) [][]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var out [][]byte
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", len(out), n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
	}
	return out
}
