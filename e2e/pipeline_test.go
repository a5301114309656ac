package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kraw"
)

// TestPipelineExactlyOnceAcrossSIGKILL: 50,000 events through the Inbound
// listener with add-ons and an autofill key, written while the pipeline is
// off; sluice is then started with the pipeline, killed with SIGKILL while
// it is storing (several polls' worth are waiting, so the kill lands
// mid-run) and started again, and 5,000 more arrive; every event is stored
// exactly once, enriched, with the key's autofill.
func TestPipelineExactlyOnceAcrossSIGKILL(t *testing.T) {
	c := kafkaCluster(t, 1, false)
	dir := t.TempDir()
	org := []string{"--org-id", "0123456789abcdef01234567", "--org-key", "pipeline-org-key-0123456789"}
	args := append(append([]string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ",")}, org...), localArgs(t)...)
	p := startSluice(t, dir, append(args, "--pipeline=false")...)
	inbound := addrAfter(t, p, "Kafka Inbound:")

	proj := createProject(t, p.HTTP, "0123456789abcdef01234567", "pipeline-org-key-0123456789", "pipe")
	st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+proj.ID+"/keys", proj.APIKeys["master"],
		`{"name":"tenant","permitted":["writes"],"options":{"writes":{"autofill":{"tenant":{"id":"t1"}}}}}`)
	if st != 201 {
		t.Fatalf("create key: %d %s", st, body)
	}
	var key struct{ Key string }
	_ = json.Unmarshal([]byte(body), &key)

	tlsCfg, err := kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	produce := func(addr string, from, to int) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(plain.Auth{User: proj.ID, Pass: key.Key}.AsMechanism()), kgo.RecordDeliveryTimeout(60*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			v := fmt.Sprintf(`{"n":%d,"tenant":{"id":"forged"},"page":"https://shop.example.com/cart?item=%d#top",`+
				`"ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",`+
				`"keen":{"timestamp":"2026-11-01T10:00:00.000Z","addons":[`+
				`{"name":"keen:url_parser","input":{"url":"page"},"output":"page_info"},`+
				`{"name":"keen:date_time_parser","input":{"date_time":"keen.timestamp"},"output":"when"},`+
				`{"name":"keen:ua_parser","input":{"ua_string":"ua"},"output":"agent"}]}}`, i, i)
			recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("producing %d..%d: %v", from, to, err)
		}
	}
	count := func(base string) int {
		st, body := httpDo(t, "POST", base+"/3.0/projects/"+proj.ID+"/queries/count", proj.APIKeys["read"], `{"event_collection":"orders"}`)
		if st != 200 {
			return -1
		}
		var r struct{ Result int }
		_ = json.Unmarshal([]byte(body), &r)
		return r.Result
	}

	const first, total = 50000, 55000
	produce(inbound, 0, first)
	if code := p.stop(30 * time.Second); code != 0 {
		t.Fatalf("sluice --pipeline=false exited %d", code)
	}

	// Kill while the pipeline is storing: once some, not all, are in.
	p = startSluice(t, dir, args...)
	deadline := time.Now().Add(60 * time.Second)
	stored := count(p.HTTP)
	for ; stored <= 0; stored = count(p.HTTP) {
		if time.Now().After(deadline) {
			t.Fatal("the pipeline stored nothing within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	t.Logf("SIGKILL after %d of %d events were visible to count", stored, first)
	if stored >= first {
		t.Fatalf("the kill came after all %d events were stored: it proves nothing", first)
	}

	p = startSluice(t, dir, args...)
	restarted, atRestart := time.Now(), count(p.HTTP)
	produce(addrAfter(t, p, "Kafka Inbound:"), first, total)
	deadline = time.Now().Add(3 * time.Minute)
	resumed := false
	for n := count(p.HTTP); n != total; n = count(p.HTTP) {
		if time.Now().After(deadline) || n > total {
			t.Fatalf("count = %d, want %d", n, total)
		}
		if !resumed && n > atRestart {
			// A figure for the note, not an assertion: how long the
			// restarted process took to take its partitions back.
			resumed = true
			t.Logf("the restarted process stored its first events %v after it started", time.Since(restarted).Round(100*time.Millisecond))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // anything stored twice would show now
	if n := count(p.HTTP); n != total {
		t.Fatalf("count settled at %d, want %d", n, total)
	}

	// Field by field on samples.
	for _, n := range []int{0, first - 1, first, total - 1} {
		q := fmt.Sprintf(`{"event_collection":"orders","filters":[{"property_name":"n","operator":"eq","property_value":%d}]}`, n)
		st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+proj.ID+"/queries/extraction", proj.APIKeys["read"], q)
		if st != 200 {
			t.Fatalf("extraction: %d %s", st, body)
		}
		var r struct {
			Result []struct {
				Keen struct {
					ID        string          `json:"id"`
					Timestamp string          `json:"timestamp"`
					Addons    json.RawMessage `json:"addons"`
				} `json:"keen"`
				Tenant   struct{ ID string } `json:"tenant"`
				PageInfo struct {
					Domain, Path, Protocol, Anchor string
					QueryString                    map[string]string `json:"query_string"`
				} `json:"page_info"`
				When  struct{ Year, Month, Hour int } `json:"when"`
				Agent struct {
					Browser struct{ Family string } `json:"browser"`
				} `json:"agent"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Result) != 1 {
			t.Fatalf("event %d: %s (%v)", n, body, err)
		}
		ev := r.Result[0]
		switch {
		case len(ev.Keen.ID) != 24, ev.Keen.Timestamp != "2026-11-01T10:00:00.000Z", ev.Keen.Addons != nil:
			t.Errorf("event %d keen object: %+v", n, ev.Keen)
		case ev.Tenant.ID != "t1":
			t.Errorf("event %d: autofill not applied over the event's own value: %+v", n, ev.Tenant)
		case ev.PageInfo.Domain != "shop.example.com" || ev.PageInfo.Path != "/cart" || ev.PageInfo.Protocol != "https" ||
			ev.PageInfo.Anchor != "top" || ev.PageInfo.QueryString["item"] != strconv.Itoa(n):
			t.Errorf("event %d url_parser: %+v", n, ev.PageInfo)
		case ev.When.Year != 2026 || ev.When.Month != 11 || ev.When.Hour != 10:
			t.Errorf("event %d date_time_parser: %+v", n, ev.When)
		case ev.Agent.Browser.Family != "Chrome":
			t.Errorf("event %d ua_parser: %+v", n, ev.Agent)
		}
	}
}

// addrAfter finds the address printed after a start-up label.
func addrAfter(t *testing.T, p *proc, label string) string {
	t.Helper()
	line, ok := p.stdout.wait(label, time.Second)
	if !ok {
		t.Fatalf("start-up printed no %q", label)
	}
	f := strings.Fields(strings.TrimPrefix(line, label))
	return f[0]
}
