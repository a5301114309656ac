package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPoisonEvents sends hostile events through Kafka Inbound, each to a
// collection of its own, with Kafka Outbound enabled, on the embedded log
// and on Apache Kafka: 10,000 properties, 100,000-deep nesting of objects
// and of arrays, NUL bytes, invalid UTF-8, an 800 KB User-Agent for
// keen:ua_parser, and two events that together pass the collection's
// property limit (the store refuses the second). Each gets a dead letter
// with its documented Keen error; afterwards the same project's next valid
// event and another project's event are countable and streamed, and
// sluice's memory stayed bounded (a 10,000-property event alone once took
// it to 23 GiB).
func TestPoisonEvents(t *testing.T) {
	wide := func(prefix string, n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"%s%d":%d`, prefix, i, i)
		}
		b.WriteString("}")
		return b.String()
	}
	ua := `{"ua":"Mozilla/5.0 ` + strings.Repeat("(X11; Linux x86_64) ", 40_000) + `","keen":{"addons":[{"name":"keen:ua_parser","input":{"ua_string":"ua"},"output":"parsed"}]}}`
	cases := []struct {
		collection string
		events     []string
		wantError  string // in the DLQ record's "error"
	}{
		{"p-wide", []string{wide("p", 10_000)}, "PropertyLimitError"},
		{"p-deep-objects", []string{strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)}, "InvalidEventError"},
		{"p-deep-arrays", []string{`{"x":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`}, "ListsOfNonPrimitivesNotAllowedError"},
		{"p-nul", []string{"{\"a\":\"x\x00y\"}"}, "InvalidEventError"},
		{"p-utf8", []string{"{\"a\":\"\xff\xfe\"}"}, "InvalidEventError"},
		{"p-ua", []string{ua}, "InvalidAddOnError"},
		// 600 properties each: the first is stored, the second would take
		// the collection past 1,000 columns and is refused by the store.
		{"p-columns", []string{wide("a", 600), wide("b", 600)}, "PropertyLimitError"},
	}
	for _, backend := range []string{"embedded", "kafka"} {
		t.Run(backend, func(t *testing.T) {
			e := startPoisonEnv(t, backend)
			p, a, b, client := e.p, e.a, e.b, e.client
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			producer := client(addrAfter(t, p, "Kafka Inbound:"), a, "write", kgo.RecordDeliveryTimeout(time.Minute))
			for _, c := range cases {
				for _, ev := range c.events {
					if err := producer.ProduceSync(ctx, &kgo.Record{Topic: c.collection, Value: []byte(ev)}).FirstErr(); err != nil {
						t.Fatalf("producing to %s: %v", c.collection, err)
					}
				}
			}
			start := time.Now()
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "after", Value: []byte(`{"after":"the poison"}`)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+b.ID+"/events/other", b.APIKeys["write"], `{"from":"b"}`); st != 201 {
				t.Fatalf("the bystander's event: %d %s", st, body)
			}
			waitCountWithin(t, p.HTTP, a, "after", 1, 30*time.Second)
			waitCountWithin(t, p.HTTP, b, "other", 1, 30*time.Second)
			waitCountWithin(t, p.HTTP, a, "p-columns", 1, 30*time.Second)
			t.Logf("%s: the next events countable %s after the poison", backend, time.Since(start).Round(time.Millisecond))

			outbound := addrAfter(t, p, "Kafka Outbound:")
			topics := []string{"after"}
			for _, c := range cases {
				topics = append(topics, c.collection+"-dlq")
			}
			consume := func(proj httpProject, topics ...string) *kgo.Client {
				return client(outbound, proj, "read", kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.FetchMaxBytes(8<<20), kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
			}
			ca, cb := consume(a, topics...), consume(b, "other")
			errs := map[string][]string{} // DLQ topic → the errors of its records
			var streamedA, streamedB bool
			deadline, stop := context.WithTimeout(ctx, 30*time.Second)
			defer stop()
			complete := func() bool {
				for _, c := range cases {
					if len(errs[c.collection+"-dlq"]) < 1 {
						return false
					}
				}
				return streamedA && streamedB
			}
			for !complete() {
				if deadline.Err() != nil {
					t.Fatalf("after %s: next event streamed %v, bystander streamed %v, dead letters %v",
						time.Since(start).Round(time.Millisecond), streamedA, streamedB, errs)
				}
				poll, cancel := context.WithTimeout(deadline, 200*time.Millisecond)
				ca.PollFetches(poll).EachRecord(func(r *kgo.Record) {
					if r.Topic == "after" {
						streamedA = streamedA || bytes.Contains(r.Value, []byte(`"after":"the poison"`))
						return
					}
					var v struct{ Error string }
					if err := json.Unmarshal(r.Value, &v); err != nil {
						t.Fatalf("dead letter on %s: %v", r.Topic, err)
					}
					errs[r.Topic] = append(errs[r.Topic], v.Error)
				})
				cancel()
				poll, cancel = context.WithTimeout(deadline, 200*time.Millisecond)
				cb.PollFetches(poll).EachRecord(func(r *kgo.Record) {
					streamedB = streamedB || bytes.Contains(r.Value, []byte(`"from":"b"`))
				})
				cancel()
			}
			for _, c := range cases {
				got := errs[c.collection+"-dlq"]
				if len(got) != 1 || !strings.Contains(got[0], c.wantError) {
					t.Errorf("%s: dead letters %q, want one with %s", c.collection, got, c.wantError)
				} else {
					t.Logf("%s: %.160s", c.collection, got[0])
				}
			}
			rss := residentMiB(t, p.cmd.Process.Pid)
			t.Logf("%s: sluice's resident memory after the poison: %d MiB", backend, rss)
			if rss > 2048 {
				t.Errorf("sluice holds %d MiB after the poison; hostile events must cost bounded memory", rss)
			}
		})
	}
}

// residentMiB reads a process's resident set size.
func residentMiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
