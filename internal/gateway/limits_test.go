package gateway_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/gateway"
	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/limits"
)

// TestProjectConnectionLimit: a project at its cap of connections to a
// listener is refused at authentication with a message saying so, counted
// under its own name; another project's producer and the project's open
// connections are served, and a closed connection gives its slot back.
func TestProjectConnectionLimit(t *testing.T) {
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	lim := limits.DefaultConnections()
	// A franz-go producer alone holds 3 (seed, and a normal and a produce
	// connection to the broker).
	lim.MaxKafkaConnectionsPerProject = 4
	e := gatewaytest.Start(t, log.Addrs(), func(c *gateway.Config) { c.Limits.Connections = lim })

	p, q := e.Project("P"), e.Project("Q")
	first := e.Raw(e.InAddr, p.ID, p.WriteKey)
	for range lim.MaxKafkaConnectionsPerProject - 1 {
		e.Raw(e.InAddr, p.ID, p.WriteKey)
	}
	_, err = kraw.DialAuth(e.InAddr, e.TLS, p.ID, p.WriteKey)
	if ae, ok := err.(*kraw.AuthError); !ok || !strings.Contains(ae.Message, "Too many connections: project "+p.ID) {
		t.Fatalf("connection over P's cap: %v, want a refusal naming too many connections", err)
	}
	// The cap is per listener: P may still consume.
	if _, err := kraw.DialAuth(e.OutAddr, e.TLS, p.ID, p.ReadKey); err != nil {
		t.Fatalf("P refused on the Outbound listener: %v", err)
	}
	gatewaytest.ProduceN(t, e.Producer(q.ID, q.WriteKey), "other", 10)

	first.Close()
	var lastErr error
	for range 100 { // the slot is given back once the server has seen the close
		var c *kraw.Conn
		if c, lastErr = kraw.DialAuth(e.InAddr, e.TLS, p.ID, p.WriteKey); lastErr == nil {
			c.Close()
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("P still refused after closing a connection: %v", lastErr)
	}

	mfs, err := e.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "sluice_kafka_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["project"] == p.ID && labels["reason"] == "user_connection_limit" && labels["listener"] == "inbound" {
				found += m.GetCounter().GetValue()
			}
		}
	}
	if found < 1 {
		t.Fatalf("refusal not counted under project %s", p.ID)
	}
}
