package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/registry/registrytest"
)

// TestRegistryRealKafka runs the registry suite on Apache Kafka, one broker
// and three.
func TestRegistryRealKafka(t *testing.T) {
	t.Run("1 broker", func(t *testing.T) { registrytest.RoundTrip(t, kafkaCluster(t, 1, false).Bootstrap) })
	t.Run("3 brokers", func(t *testing.T) { registrytest.RoundTrip(t, kafkaCluster(t, 3, false).Bootstrap) })
}

// TestTwoProcessesShareBackend: two sluice processes on one Apache Kafka
// cluster; a key created through the first works on the second, and so does
// its revocation, within a second.
func TestTwoProcessesShareBackend(t *testing.T) {
	c := kafkaCluster(t, 1, false)
	org := []string{"--org-id", "0123456789abcdef01234567", "--org-key", "shared-org-key-0123456789"}
	common := append([]string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ",")}, org...)
	a := startSluice(t, t.TempDir(), append(common, localArgs(t)...)...)
	b := startSluice(t, t.TempDir(), append(common, localArgs(t)...)...)

	p := createProject(t, a.HTTP, "0123456789abcdef01234567", "shared-org-key-0123456789", "shared")
	master := p.APIKeys["master"]
	st, body := httpDo(t, "POST", a.HTTP+"/3.0/projects/"+p.ID+"/keys", master, `{"name":"k","permitted":["writes"]}`)
	if st != 201 {
		t.Fatalf("create key: %d %s", st, body)
	}
	var k struct{ Key string }
	_ = json.Unmarshal([]byte(body), &k)

	visibleOnB := func(want int) time.Duration {
		start := time.Now()
		for {
			st, _ := httpDo(t, "GET", b.HTTP+"/3.0/projects/"+p.ID+"/keys/"+k.Key, master, "")
			if st == want {
				return time.Since(start)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("second process answers %d, want %d, after 1 s", st, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("key visible on the second process after %s", visibleOnB(200))
	if st, _ := httpDo(t, "POST", a.HTTP+"/3.0/projects/"+p.ID+"/keys/"+k.Key+"/revoke", master, ""); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	start := time.Now()
	for {
		_, body := httpDo(t, "GET", b.HTTP+"/3.0/projects/"+p.ID+"/keys/"+k.Key, master, "")
		if strings.Contains(body, `"is_active":false`) {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("revocation not visible on the second process after 1 s: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revocation visible on the second process after %s", time.Since(start))
}

// TestBackendSASL: sluice reaches a secured cluster with each SASL mechanism
// over TLS, and a wrong password is a clear start-up error, not a hang.
func TestBackendSASL(t *testing.T) {
	c := kafkaCluster(t, 1, true)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			args := append([]string{"serve", "--kafka-brokers", strings.Join(c.SASLBootstrap, ","), "--kafka-tls-ca", c.CAFile,
				"--kafka-sasl-mechanism", mech, "--kafka-sasl-username", "admin", "--kafka-sasl-password", "admin-secret"}, localArgs(t)...)
			p := startSluice(t, t.TempDir(), args...)
			if st, _ := httpDo(t, "GET", p.HTTP+"/healthz", "", ""); st != 200 {
				t.Fatalf("healthz %d", st)
			}
			if code := p.stop(30 * time.Second); code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		args := append([]string{"serve", "--kafka-brokers", strings.Join(c.SASLBootstrap, ","), "--kafka-tls-ca", c.CAFile,
			"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "admin", "--kafka-sasl-password", "wrong", "--kafka-connect-timeout", "20s"}, localArgs(t)...)
		p := launch(t, t.TempDir(), args...)
		select {
		case <-p.exited:
		case <-time.After(60 * time.Second):
			t.Fatal("sluice hangs on a wrong backend password")
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 3 {
			t.Fatalf("exit %d, want 3\n%s", code, p.stderr)
		}
	})
}
