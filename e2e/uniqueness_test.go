package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kafkatest"
)

// TestUniquenessTokenDuplicatesDropped: through the Inbound listener on
// Apache Kafka, the first event with a keen.uniqueness_token is stored and
// later ones with the same token are dropped and counted, not dead-lettered.
// It has a broker of its own: on the shared one, this process's pipeline
// joins the group of every earlier test's sluice (and their leftover
// transactions), and which member stores these events is then not this
// process's store.
func TestUniquenessTokenDuplicatesDropped(t *testing.T) {
	e := startInboundEnv(t, kafkatest.StartForTest(t, kafkatest.Options{Brokers: 1}), "127.0.0.1")
	p := e.project(t, "uniqueness")
	e.enableOutbound(t, p)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.inbound), kgo.DialTLSConfig(e.tlsConfig(t)),
		kgo.SASL(plain.Auth{User: p.ID, Pass: p.Write}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// One key, so one partition: the pipeline sees them in this order.
	values := []string{
		`{"marker":"first","keen":{"uniqueness_token":"order-1"}}`,
		`{"marker":"again","keen":{"uniqueness_token":"order-1"}}`,
		`{"marker":"other","keen":{"uniqueness_token":"order-2"}}`,
		`{"marker":"third","keen":{"uniqueness_token":"order-1"}}`,
		`{"marker":"plain"}`,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	e.waitCount(t, p, "orders", 3)
	time.Sleep(2 * time.Second) // a duplicate stored late would show now
	e.waitCount(t, p, "orders", 3)

	st, body := httpDo(t, "GET", e.sluice.HTTP+"/3.0/projects/"+p.ID+"/queries/extraction?event_collection=orders", p.Master, "")
	var r struct {
		Result []struct{ Marker string } `json:"result"`
	}
	if st != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("extraction: %d %s", st, body)
	}
	got := map[string]bool{}
	for _, ev := range r.Result {
		got[ev.Marker] = true
	}
	if len(got) != 3 || !got["first"] || !got["other"] || !got["plain"] {
		t.Fatalf("stored %v, want first, other and plain", got)
	}
	if n := e.metric(t, fmt.Sprintf(`sluice_pipeline_duplicates_dropped_total{project=%q}`, p.ID)); n != 2 {
		t.Errorf("duplicates dropped = %v, want 2", n)
	}
	if n := e.metric(t, fmt.Sprintf(`sluice_pipeline_dlq_records_total{project=%q,result="written"}`, p.ID)); n != 0 {
		t.Errorf("DLQ records = %v, want none: duplicates are not invalid", n)
	}
}
