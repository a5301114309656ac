package e2e

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kraw"
)

// poisonEnv is a sluice process with two projects whose Kafka Outbound is
// enabled: a, which the poison tests attack, and b, a bystander whose
// events must keep flowing.
type poisonEnv struct {
	t         *testing.T
	p         *proc
	dir       string   // the process's directory (its data dir is dir/data)
	bootstrap []string // the Apache Kafka cluster's, nil on the embedded log
	a, b      httpProject
	tls       *tls.Config
}

// startPoisonEnv starts sluice on backend ("embedded" or "kafka": the shared
// one-broker Apache Kafka cluster) and creates the two projects.
func startPoisonEnv(t *testing.T, backend string) *poisonEnv {
	t.Helper()
	dir := t.TempDir()
	const orgID, orgKey = "0123456789abcdef01234567", "poison-org-key-0123456789"
	args := []string{"serve", "--org-id", orgID, "--org-key", orgKey}
	e := &poisonEnv{t: t, dir: dir}
	if backend == "kafka" {
		e.bootstrap = kafkaCluster(t, 1, false).Bootstrap
		args = append(args, "--kafka-brokers", strings.Join(e.bootstrap, ","))
	}
	e.p = startSluice(t, dir, append(args, localArgs(t)...)...)
	e.a = createProject(t, e.p.HTTP, orgID, orgKey, "poisoned")
	e.b = createProject(t, e.p.HTTP, orgID, orgKey, "bystander")
	for _, proj := range []httpProject{e.a, e.b} {
		if st, body := httpDo(t, "PUT", e.p.HTTP+"/3.0/projects/"+proj.ID+"/streams/kafka/outbound", proj.APIKeys["master"], `{"enabled":true}`); st != 200 {
			t.Fatalf("enabling Kafka Outbound: %d %s", st, body)
		}
	}
	var err error
	if e.tls, err = kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem")); err != nil {
		t.Fatal(err)
	}
	return e
}

// client is a franz-go client of a sluice listener at addr, authenticated
// as proj with its key of the given kind ("write", "read").
func (e *poisonEnv) client(addr string, proj httpProject, key string, opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(e.tls),
		kgo.SASL(plain.Auth{User: proj.ID, Pass: proj.APIKeys[key]}.AsMechanism())}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}
