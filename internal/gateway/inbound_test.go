package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
	"github.com/sluice-io/sluice/internal/kraw"
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
func threeBrokerEnv(t *testing.T) *gatewaytest.Env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.DefaultNumPartitions(9))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return gatewaytest.Start(t, c.ListenAddrs())
}

func produceN(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

func TestProduceLandsInProjectRawTopic(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) *gatewaytest.Env{"embedded": embeddedEnv, "3 brokers": threeBrokerEnv} {
		t.Run(name, func(t *testing.T) {
			e := mk(t)
			staging, production := e.Project("Staging"), e.Project("Production")
			produceN(t, e.Producer(staging.ID, staging.WriteKey), "purchases", 100)
			produceN(t, e.Producer(production.ID, production.MasterKey), "purchases", 7)

			if got := len(e.BackendRecords(tenancy.RawTopic(staging.ID, "", "purchases"))); got != 100 {
				t.Errorf("staging raw topic has %d records, want 100", got)
			}
			if got := len(e.BackendRecords(tenancy.RawTopic(production.ID, "", "purchases"))); got != 7 {
				t.Errorf("production raw topic has %d records, want 7", got)
			}
			if e.BackendRecords("purchases") != nil {
				t.Error("a backend topic named after the client's topic exists")
			}
		})
	}
}

func TestAutofillKeyWritesToItsOwnRawTopic(t *testing.T) {
	e := embeddedEnv(t)
	p := e.Project("P")
	plainKey := e.AccessKey(p.ID, registry.AccessKey{Name: "plain", IsActive: true, Permitted: []string{registry.PermWrites}})
	auto := e.AccessKey(p.ID, registry.AccessKey{Name: "auto", IsActive: true, Permitted: []string{registry.PermWrites},
		Options: registry.Options{Writes: &registry.WritesOptions{Autofill: map[string]any{"tenant": "a"}}}})
	produceN(t, e.Producer(p.ID, plainKey.Key), "events", 3)
	produceN(t, e.Producer(p.ID, auto.Key), "events", 5)
	if got := len(e.BackendRecords(tenancy.RawTopic(p.ID, "", "events"))); got != 3 {
		t.Errorf("plain raw topic: %d records, want 3", got)
	}
	if got := len(e.BackendRecords(tenancy.RawTopic(p.ID, tenancy.KeyID(auto.Key), "events"))); got != 5 {
		t.Errorf("autofill raw topic: %d records, want 5", got)
	}
}

func TestAuthentication(t *testing.T) {
	e := embeddedEnv(t)
	p, q := e.Project("P"), e.Project("Q")
	writer := e.AccessKey(p.ID, registry.AccessKey{Name: "w", IsActive: true, Permitted: []string{registry.PermWrites}})
	reader := e.AccessKey(p.ID, registry.AccessKey{Name: "r", IsActive: true, Permitted: []string{registry.PermQueries}})
	revoked := e.AccessKey(p.ID, registry.AccessKey{Name: "x", IsActive: false, Permitted: []string{registry.PermWrites}})

	ok := []struct{ name, user, pass string }{
		{"master", p.ID, p.MasterKey}, {"write", p.ID, p.WriteKey}, {"access key permitting writes", p.ID, writer.Key},
	}
	for _, tc := range ok {
		if _, err := kraw.DialAuth(e.InAddr, e.TLS, tc.user, tc.pass); err != nil {
			t.Errorf("%s refused: %v", tc.name, err)
		}
	}
	bad := []struct{ name, user, pass, want string }{
		{"wrong key", p.ID, strings.Repeat("0", 64), "invalid project id or key"},
		{"unknown project", "ffffffffffffffffffffffff", p.MasterKey, "invalid project id or key"},
		{"malformed project id", "staging", p.MasterKey, "invalid project id or key"},
		{"other project's key", q.ID, p.MasterKey, "invalid project id or key"},
		{"revoked key", p.ID, revoked.Key, "invalid project id or key"},
		{"read key", p.ID, p.ReadKey, "may not produce"},
		{"access key without writes", p.ID, reader.Key, "may not produce"},
	}
	for _, tc := range bad {
		_, err := kraw.DialAuth(e.InAddr, e.TLS, tc.user, tc.pass)
		ae, isAuth := err.(*kraw.AuthError)
		if !isAuth || ae.Err != kerr.SaslAuthenticationFailed || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("%s: err = %v, want SASL_AUTHENTICATION_FAILED saying %q", tc.name, err, tc.want)
		}
		if isAuth && (strings.Contains(ae.Message, q.ID) || strings.Contains(ae.Message, "sluice.")) {
			t.Errorf("%s: message leaks names: %q", tc.name, ae.Message)
		}
	}
}

func TestRevokedKeyClosesLiveConnection(t *testing.T) {
	e := embeddedEnv(t)
	p := e.Project("P")
	k := e.AccessKey(p.ID, registry.AccessKey{Name: "w", IsActive: true, Permitted: []string{registry.PermWrites}})
	busy := e.Raw(e.InAddr, p.ID, k.Key)
	idle := e.Raw(e.InAddr, p.ID, k.Key)
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	if _, err := busy.Do(meta); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Registry.UpdateAccessKey(context.Background(), p.ID, k.Key, func(k *registry.AccessKey) { k.IsActive = false }); err != nil {
		t.Fatal(err)
	}
	if _, err := busy.Do(meta); err == nil {
		t.Error("a revoked key's connection still gets answers")
	}
	if !idle.Closed(5 * time.Second) {
		t.Error("an idle connection of a revoked key stays open")
	}
}
