package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/kafkatest"
)

// TestHealthFollowsTheBackend freezes the backend broker (SIGSTOP: its
// port still accepts connections, nothing answers) for a minute: /healthz
// says degraded and names the backend meanwhile, /livez stays 200, and once
// the broker runs again sluice recovers by itself — healthy, and recording
// and counting events — with no restart.
func TestHealthFollowsTheBackend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A cluster of its own: freezing the shared one would stall other tests.
	c, err := kafkatest.Start(ctx, kafkatest.Options{Brokers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	pidText, err := os.ReadFile(filepath.Join(c.Dir, "node1", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	brokerPID, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	resume := func() { _ = syscall.Kill(brokerPID, syscall.SIGCONT) }
	defer resume()

	const orgID, orgKey = "0123456789abcdef0123ffff", "health-org-key-0123456789abcdef"
	args := append([]string{"serve", "--kafka-brokers", strings.Join(c.Bootstrap, ","), "--org-id", orgID, "--org-key", orgKey}, localArgs(t)...)
	p := startSluice(t, t.TempDir(), args...)
	proj := createProject(t, p.HTTP, orgID, orgKey, "health")
	base := p.HTTP + "/3.0/projects/" + proj.ID
	record := func(n int) int {
		st, _ := httpDo(t, "POST", base+"/events/pings", proj.APIKeys["write"], `{"n":`+strconv.Itoa(n)+`}`)
		return st
	}
	countIs := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			st, body := httpDo(t, "GET", base+"/queries/count?event_collection=pings", proj.APIKeys["read"], "")
			if st == 200 && strings.Contains(body, `"result":`+want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("count never reached %s: %d %s", want, st, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	healthIs := func(code int, contains string, within time.Duration) string {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			st, body := httpDo(t, "GET", p.HTTP+"/healthz", "", "")
			if st == code && strings.Contains(body, contains) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("/healthz never answered %d with %q; last %d %s", code, contains, st, body)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	if st := record(1); st != 201 {
		t.Fatalf("recording before the freeze: %d", st)
	}
	countIs("1", 30*time.Second)
	healthIs(200, `"status":"ok"`, 10*time.Second)

	if err := syscall.Kill(brokerPID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	body := healthIs(503, `"backend":{"status":"degraded"`, 20*time.Second)
	t.Logf("degraded %s after the freeze: %s", time.Since(frozen).Round(100*time.Millisecond), body)
	if st, _ := httpDo(t, "GET", p.HTTP+"/livez", "", ""); st != 200 {
		t.Fatalf("/livez while the backend is frozen: %d", st)
	}
	time.Sleep(time.Until(frozen.Add(time.Minute)))
	healthIs(503, `"backend":{"status":"degraded"`, time.Second)
	resume()
	thawed := time.Now()
	healthIs(200, `"status":"ok"`, time.Minute)
	t.Logf("healthy %s after the broker resumed", time.Since(thawed).Round(100*time.Millisecond))
	if st := record(2); st != 201 {
		t.Fatalf("recording after the freeze: %d", st)
	}
	countIs("2", 60*time.Second)
	t.Logf("an event recorded after the freeze was countable %s after the broker resumed", time.Since(thawed).Round(100*time.Millisecond))
}
