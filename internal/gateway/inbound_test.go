package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
	"github.com/sluice-io/sluice/internal/kraw"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/registry"
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

// TestCollectionLimit runs gatewaytest.CollectionLimit on the embedded log
// with a limit of 3 collections per project.
func TestCollectionLimit(t *testing.T) {
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	gatewaytest.CollectionLimit(t, gatewaytest.StartLimits(t, log.Addrs(), limits.Config{MaxCollectionsPerProject: 3}))
}

// TestProduceQuota runs gatewaytest.ProduceQuota on the embedded log.
func TestProduceQuota(t *testing.T) {
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	gatewaytest.ProduceQuota(t, log.Addrs())
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

// TestMetrics: records and bytes in, authentication failures and refusals
// are counted per project.
func TestMetrics(t *testing.T) {
	e := embeddedEnv(t)
	p := e.Project("P")
	gatewaytest.ProduceN(t, e.Producer(p.ID, p.WriteKey), "counted", 25)
	if _, err := kraw.DialAuth(e.InAddr, e.TLS, p.ID, strings.Repeat("0", 64)); err == nil {
		t.Fatal("wrong key accepted")
	}
	if _, err := kraw.DialAuth(e.InAddr, e.TLS, "ffffffffffffffffffffffff", "x"); err == nil {
		t.Fatal("unknown project accepted")
	}
	c := e.Raw(e.InAddr, p.ID, p.WriteKey)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("bad name")}}
	if _, err := c.Do(meta); err != nil {
		t.Fatal(err)
	}

	want := map[string]float64{
		`sluice_kafka_records_in_total{project="` + p.ID + `"}`:                                         25,
		`sluice_kafka_auth_failures_total{listener="inbound",project="` + p.ID + `"}`:                   1,
		`sluice_kafka_auth_failures_total{listener="inbound",project="unknown"}`:                        1,
		`sluice_kafka_refusals_total{listener="inbound",project="` + p.ID + `",reason="invalid_topic"}`: 1,
	}
	got := map[string]float64{}
	mfs, err := e.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			v := m.GetCounter().GetValue()
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if b := got[`sluice_kafka_bytes_in_total{project="`+p.ID+`"}`]; b < 25*8 {
		t.Errorf("bytes in = %v, too few for 25 records", b)
	}
}

// TestOutboundAuthentication: the Outbound listener admits the master key,
// the read key and access keys permitting queries without filters; a key
// with query filters is refused with a message saying why.
func TestOutboundAuthentication(t *testing.T) {
	e := embeddedEnv(t)
	p := e.Project("P")
	plain := e.AccessKey(p.ID, registry.AccessKey{Name: "q", IsActive: true, Permitted: []string{registry.PermQueries}})
	filtered := e.AccessKey(p.ID, registry.AccessKey{Name: "f", IsActive: true, Permitted: []string{registry.PermQueries},
		Options: registry.Options{Queries: &registry.QueriesOptions{Filters: []registry.Filter{{PropertyName: "a", Operator: "eq", PropertyValue: "b"}}}}})
	for name, key := range map[string]string{"master": p.MasterKey, "read": p.ReadKey, "queries key": plain.Key} {
		if _, err := kraw.DialAuth(e.OutAddr, e.TLS, p.ID, key); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	for name, tc := range map[string]struct{ key, want string }{
		"filtered key": {filtered.Key, "query filters"},
		"write key":    {p.WriteKey, "may not consume"},
		"wrong key":    {strings.Repeat("0", 64), "invalid project id or key"},
	} {
		_, err := kraw.DialAuth(e.OutAddr, e.TLS, p.ID, tc.key)
		if ae, ok := err.(*kraw.AuthError); !ok || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s: %v, want a refusal saying %q", name, err, tc.want)
		}
	}
}

// TestBootstrapOutlivesADeadBroker: when the broker the bootstrap listener
// used first is gone, the bootstrap answers through another, so a new
// client that knows only the bootstrap address still produces.
func TestBootstrapOutlivesADeadBroker(t *testing.T) {
	e, c := threeBrokerEnv(t)
	p := e.Project("P")
	gatewaytest.ProduceN(t, e.Producer(p.ID, p.WriteKey), "orders", 10)
	if err := c.RemoveNode(0); err != nil { // the lowest id: the bootstrap's first choice
		t.Fatal(err)
	}
	gatewaytest.ProduceN(t, e.Producer(p.ID, p.WriteKey), "orders", 10)
}
