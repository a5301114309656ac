package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// TestPoisonDeadLettersDoNotStallOutbound: an invalid event of 180 KB of
// `<` (its payload as a JSON string would be 1,080,000 bytes, over the
// DLQ's max.message.bytes) over Kafka Inbound, and over HTTP an object with
// an invalid property name holding as many (HTTP answers 400 and writes
// it, for the DLQ; a body that is no JSON object is refused unwritten),
// with Kafka Outbound enabled. Each gets a truncated dead letter that says so, and
// the same project's next valid event and another project's event are
// streamed on Kafka Outbound right after: on the embedded log and on
// Apache Kafka. On Apache Kafka also a record the broker refuses: an
// outbound topic made with a smaller max.message.bytes than sluice's, and
// three events of one key produced together, the middle one too large for
// it: the other two are streamed, in order.
func TestPoisonDeadLettersDoNotStallOutbound(t *testing.T) {
	for _, backend := range []string{"embedded", "kafka"} {
		t.Run(backend, func(t *testing.T) {
			e := startPoisonEnv(t, backend)
			p, a, b, client := e.p, e.a, e.b, e.client
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			producer := client(addrAfter(t, p, "Kafka Inbound:"), a, "write", kgo.RecordDeliveryTimeout(time.Minute))

			narrow := backend == "kafka"
			if narrow {
				adm, err := kgo.NewClient(kgo.SeedBrokers(e.bootstrap...))
				if err != nil {
					t.Fatal(err)
				}
				small := "2000"
				resp, err := kadm.NewClient(adm).CreateTopic(ctx, 9, 1, map[string]*string{"max.message.bytes": &small}, tenancy.BackendOutboundTopic(a.ID, "narrow"))
				adm.Close()
				if err == nil {
					err = resp.Err
				}
				if err != nil {
					t.Fatal(err)
				}
				key := []byte("one key, one batch")
				recs := []*kgo.Record{
					{Topic: "narrow", Key: key, Value: []byte(`{"small":1}`)},
					{Topic: "narrow", Key: key, Value: []byte(`{"pad":"` + strings.Repeat("p", 3000) + `"}`)},
					{Topic: "narrow", Key: key, Value: []byte(`{"small":2}`)},
				}
				if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}

			poison := strings.Repeat("<", 180_000)
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "pages", Value: []byte(poison)}).FirstErr(); err != nil {
				t.Fatalf("producing the poison: %v", err)
			}
			httpPoison := `{"bad.name":"` + poison + `"}`
			if st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+a.ID+"/events/pages", a.APIKeys["write"], httpPoison); st != 400 {
				t.Fatalf("the poison over HTTP: %d %s", st, body)
			}
			start := time.Now()
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "pages", Value: []byte(`{"after":"the poison"}`)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+b.ID+"/events/other", b.APIKeys["write"], `{"from":"b"}`); st != 201 {
				t.Fatalf("the bystander's event: %d %s", st, body)
			}

			outbound := addrAfter(t, p, "Kafka Outbound:")
			consume := func(proj httpProject, topics ...string) *kgo.Client {
				// Topics that do not exist yet are looked up again soon.
				return client(outbound, proj, "read", kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.FetchMaxBytes(8<<20), kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second))
			}
			// Within 30 s (the kfake tests hold the pipeline to 10 s; here
			// the machine and a real broker add their own delays).
			deadline, stop := context.WithTimeout(context.Background(), 30*time.Second)
			defer stop()
			var streamedA, streamedB bool
			var dead []map[string]any
			var narrowed []string
			topicsA := []string{"pages", "pages-dlq"}
			if narrow {
				topicsA = append(topicsA, "narrow")
			}
			ca, cb := consume(a, topicsA...), consume(b, "other")
			for !(streamedA && streamedB && len(dead) == 2 && (!narrow || len(narrowed) == 2)) {
				if deadline.Err() != nil {
					t.Fatalf("after %s: a's next event streamed %v, b's event streamed %v, %d of 2 dead letters, narrow topic %q",
						time.Since(start).Round(time.Millisecond), streamedA, streamedB, len(dead), narrowed)
				}
				poll, cancel := context.WithTimeout(deadline, 200*time.Millisecond)
				ca.PollFetches(poll).EachRecord(func(r *kgo.Record) {
					switch r.Topic {
					case "pages":
						streamedA = streamedA || bytes.Contains(r.Value, []byte(`"after":"the poison"`))
					case "narrow":
						narrowed = append(narrowed, string(r.Value))
					case "pages-dlq":
						var v map[string]any
						if err := json.Unmarshal(r.Value, &v); err != nil {
							t.Fatalf("dead letter: %v", err)
						}
						dead = append(dead, v)
					}
				})
				cancel()
				poll, cancel = context.WithTimeout(deadline, 200*time.Millisecond)
				cb.PollFetches(poll).EachRecord(func(r *kgo.Record) {
					streamedB = streamedB || bytes.Contains(r.Value, []byte(`"from":"b"`))
				})
				cancel()
			}
			if narrow && (!strings.Contains(narrowed[0], `"small":1`) || !strings.Contains(narrowed[1], `"small":2`)) {
				t.Errorf("narrow topic: %q, want small 1 then small 2", narrowed)
			}
			t.Logf("%s: both events streamed, both dead letters read, %s after the poison", backend, time.Since(start).Round(time.Millisecond))
			for _, v := range dead {
				ev, _ := v["event"].(string)
				whole := poison
				if strings.HasPrefix(ev, "{") {
					whole = httpPoison
				}
				if v["event_truncated"] != true || v["event_bytes"] != float64(len(whole)) || !strings.HasPrefix(whole, ev) || len(ev) < 150_000 || v["error"] == "" {
					t.Errorf("dead letter: truncated %v, event_bytes %v, %d bytes of event, error %v", v["event_truncated"], v["event_bytes"], len(ev), v["error"])
				}
			}
		})
	}
}
