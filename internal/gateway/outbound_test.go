package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/gateway"

	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
)

func TestOutboundSuitesEmbedded(t *testing.T) {
	e := embeddedEnv(t)
	for name, suite := range gatewaytest.OutboundSuites {
		t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
	}
}

func TestOutboundSuitesThreeBrokers(t *testing.T) {
	e, _ := threeBrokerEnv(t)
	for name, suite := range gatewaytest.OutboundSuites {
		t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
	}
}

// TestConsumerLagMetric: a group that read 4 of 10 records and committed
// them lags by 6 on that topic, under its client names.
func TestConsumerLagMetric(t *testing.T) {
	e := embeddedEnv(t)
	p := e.Project("P")
	e.Publish(e.OutboundTopic(p.ID, "orders"), values(10)...)
	cl := e.Consumer(p.ID, p.ReadKey, kgo.ConsumerGroup("lagging"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var read int
	for read < 4 && ctx.Err() == nil {
		read += len(cl.PollRecords(ctx, 4-read).Records())
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(gateway.NewLagCollector(e.Backend.Admin(), slog.New(slog.NewTextHandler(io.Discard, nil))))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got = append(got, fmt.Sprintf("%s %s/%s/%s=%v", f.GetName(), labels["project"], labels["group"], labels["topic"], m.GetGauge().GetValue()))
		}
	}
	want := fmt.Sprintf("sluice_kafka_consumer_lag %s/lagging/orders=6", p.ID)
	if len(got) != 1 || got[0] != want {
		t.Fatalf("lag series %v, want [%s]", got, want)
	}
}

func values(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"i":%d}`, i)
	}
	return out
}
