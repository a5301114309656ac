package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeNoFlags is the newcomer's first command: no flags, an empty
// directory, the contract's default ports.
func TestServeNoFlags(t *testing.T) {
	dir := t.TempDir()
	p := startSluice(t, dir, "serve")
	if line, _ := p.stdout.wait("ready", 0); strings.Count(p.stdout.String(), "ready") != 1 {
		t.Fatalf("want exactly one line with ready, got %q in:\n%s", line, p.stdout)
	}
	for _, f := range []string{"org.json", "tls/ca.pem", "tls/server.pem", "tls/server-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, "data", f)); err != nil {
			t.Errorf("data/%s: %v", f, err)
		}
	}
	var org struct {
		ID  string `json:"org_id"`
		Key string `json:"org_key"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "data", "org.json"))
	if err := json.Unmarshal(b, &org); err != nil || org.ID == "" || org.Key == "" {
		t.Fatalf("org.json = %s", b)
	}
	if !strings.Contains(p.stdout.String(), org.ID) || !strings.Contains(p.stdout.String(), org.Key) {
		t.Error("generated organization credentials not printed at start")
	}
	if p.HTTP != "http://localhost:8080" {
		t.Errorf("HTTP API announced as %q", p.HTTP)
	}
	if st, _ := httpDo(t, "GET", "http://127.0.0.1:8080/healthz", "", ""); st != 200 {
		t.Fatalf("healthz = %d", st)
	}
	for _, want := range []string{"localhost:9092", "localhost:9093"} {
		if !strings.Contains(p.stdout.String(), want) {
			t.Errorf("start-up does not announce %s", want)
		}
	}
	if code := p.stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d\nstderr:\n%s", code, p.stderr)
	}
}

func TestServeBadFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--inbound-addr", "nowhere"}, "--inbound-addr"},
		{[]string{"serve", "--kafka-sasl-mechanism", "GSSAPI", "--kafka-brokers", "h:1", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p"}, "--kafka-sasl-mechanism"},
		{[]string{"serve", "--tls-cert", "x.pem"}, "--tls-key"},
	}
	for _, tc := range cases {
		p := launch(t, t.TempDir(), tc.args...)
		<-p.exited
		if code := p.cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%v: exit code %d, want 2", tc.args, code)
		}
		if errText := strings.TrimSpace(p.stderr.String()); !strings.Contains(errText, tc.want) || strings.Count(errText, "\n") != 0 {
			t.Errorf("%v: error %q is not one line naming %s", tc.args, errText, tc.want)
		}
	}
}

func TestServeUnreachableBackend(t *testing.T) {
	dead := freeAddr(t)
	args := append([]string{"serve", "--kafka-brokers", dead, "--kafka-connect-timeout", "2s"}, localArgs(t)...)
	p := launch(t, t.TempDir(), args...)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("sluice hangs on an unreachable backend")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("exit code %d, want 3\nstderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "unreachable") {
		t.Fatalf("error does not say the backend is unreachable:\n%s", p.stderr)
	}
}

// TestEmbeddedRestartAndCLI: a project created with the CLI, an access key
// and stream settings survive a restart of sluice on the embedded log.
func TestEmbeddedRestartAndCLI(t *testing.T) {
	dir := t.TempDir()
	args := append([]string{"serve"}, localArgs(t)...)
	p := startSluice(t, dir, args...)

	cli := launch(t, dir, "project", "create", "--name", "Staging", "--server", p.HTTP)
	<-cli.exited
	if code := cli.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("project create: exit %d: %s", code, cli.stderr)
	}
	line, ok := cli.stdout.wait("project", time.Second)
	mline, _ := cli.stdout.wait("master key", time.Second)
	if !ok {
		t.Fatalf("CLI printed: %s", cli.stdout)
	}
	pid := strings.Fields(line)[1]
	master := strings.Fields(mline)[2]
	if len(pid) != 24 || len(master) != 64 {
		t.Fatalf("CLI printed id %q key %q", pid, master)
	}
	st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+pid+"/keys", master, `{"name":"w","permitted":["writes"],"options":{"writes":{"autofill":{"tenant":"a"}}}}`)
	if st != 201 {
		t.Fatalf("create key: %d %s", st, body)
	}
	var key struct{ Key string }
	_ = json.Unmarshal([]byte(body), &key)
	if st, _ := httpDo(t, "PUT", p.HTTP+"/3.0/projects/"+pid+"/streams/kafka/outbound", master, `{"enabled":true}`); st != 200 {
		t.Fatalf("enable outbound: %d", st)
	}
	if code := p.stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	p = startSluice(t, dir, args...)
	st, body = httpDo(t, "GET", p.HTTP+"/3.0/projects/"+pid+"/keys/"+key.Key, master, "")
	if st != 200 || !strings.Contains(body, `"tenant":"a"`) {
		t.Fatalf("after restart, key: %d %s", st, body)
	}
	st, body = httpDo(t, "GET", p.HTTP+"/3.0/projects/"+pid+"/streams/kafka", master, "")
	if st != 200 || !strings.Contains(body, `"enabled":true`) {
		t.Fatalf("after restart, streams: %d %s", st, body)
	}
	p.stop(30 * time.Second)

	// The CLI refuses clearly when it has no organization credentials.
	cli = launch(t, t.TempDir(), "project", "create", "--name", "X", "--server", p.HTTP)
	<-cli.exited
	if cli.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(cli.stderr.String(), "org.json") {
		t.Fatalf("CLI without credentials: %s", cli.stderr)
	}
}
