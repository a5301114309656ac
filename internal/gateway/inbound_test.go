package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// embeddedEnv runs the gateway over the embedded single-node log.
func embeddedEnv(t *testing.T) *gatewaytest.Env {
	t.Helper()
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	return gatewaytest.Start(t, log.Addrs())
}

// threeBrokerEnv runs the gateway over a three-broker kfake cluster, so that
// leaders differ between partitions and every address must be rewritten.
func threeBrokerEnv(t *testing.T) (*gatewaytest.Env, *kfake.Cluster) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.DefaultNumPartitions(9))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return gatewaytest.Start(t, c.ListenAddrs()), c
}

func TestInboundSuitesEmbedded(t *testing.T) {
	e := embeddedEnv(t)
	for name, suite := range gatewaytest.InboundSuites {
		t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
	}
}

func TestInboundSuitesThreeBrokers(t *testing.T) {
	e, _ := threeBrokerEnv(t)
	for name, suite := range gatewaytest.InboundSuites {
		t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
	}
}

// TestLeaderChangesAndNewBrokers: a producer keeps going when partition
// leaders move, and when a broker joins the cluster and becomes a leader the
// gateway binds an endpoint for it and advertises it.
func TestLeaderChangesAndNewBrokers(t *testing.T) {
	e, c := threeBrokerEnv(t)
	p := e.Project("P")
	cl := e.Producer(p.ID, p.WriteKey)
	gatewaytest.ProduceN(t, cl, "moving", 50)
	raw := tenancy.RawTopic(p.ID, "", "moving")
	c.ShufflePartitionLeaders()
	gatewaytest.ProduceN(t, cl, "moving", 50)

	node, _, err := c.AddNode(-1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for part := int32(0); part < 9; part++ {
		if err := c.MoveTopicPartition(raw, part, node); err != nil {
			t.Fatal(err)
		}
	}
	gatewaytest.ProduceN(t, cl, "moving", 50)
	if got := len(e.BackendRecords(raw)); got != 150 {
		t.Fatalf("%d records in the raw topic, want 150", got)
	}
	found := false
	for _, ep := range e.Inbound.Endpoints() {
		found = found || strings.HasPrefix(ep, fmt.Sprintf("node %d ", node))
	}
	if !found {
		t.Fatalf("no endpoint for the new broker %d: %v", node, e.Inbound.Endpoints())
	}
}
