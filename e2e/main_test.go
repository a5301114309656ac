// Package e2e holds black-box tests: the sluice binary, a real Apache Kafka
// broker fetched from Maven Central, and real clients.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/gateway"
	"github.com/sluice-io/sluice/internal/kafkatest"
)

// sluiceBin is the binary under test, built once by TestMain.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", sluiceBin, "../cmd/sluice")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopClusters()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Real Kafka clusters are shared by the tests of this package: a JVM broker
// takes seconds to start and the machine has two cores.
var (
	clustersMu sync.Mutex
	clusters   = map[string]*kafkatest.Cluster{}
)

// kafkaCluster returns the shared real cluster of the given shape, starting
// it on first use.
func kafkaCluster(t *testing.T, brokers int, sasl bool) *kafkatest.Cluster {
	t.Helper()
	clustersMu.Lock()
	defer clustersMu.Unlock()
	key := fmt.Sprintf("%d-%v", brokers, sasl)
	if c, ok := clusters[key]; ok {
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "sluice-kafka-"+key+"-")
	if err != nil {
		t.Fatal(err)
	}
	c, err := kafkatest.Start(ctx, kafkatest.Options{Brokers: brokers, SASL: sasl, Dir: dir})
	if err != nil {
		t.Fatalf("starting Apache Kafka (%s): %v", key, err)
	}
	clusters[key] = c
	return c
}

func stopClusters() {
	clustersMu.Lock()
	defer clustersMu.Unlock()
	for _, c := range clusters {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = c.Stop(ctx)
		cancel()
		os.RemoveAll(c.Dir)
	}
}

// proc is a running `sluice serve`.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	dir     string
	stdout  *lineLog
	stderr  *lineLog
	exited  chan struct{}
	exitErr error
	HTTP    string // base URL
}

// lineLog collects a stream's lines and lets a test wait for one.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
	eof   chan struct{} // closed when the stream has been read to its end
}

func newLineLog(r io.Reader) *lineLog {
	l := &lineLog{added: make(chan struct{}), eof: make(chan struct{})}
	go func() {
		defer close(l.eof)
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 64*1024), 1<<20)
		for s.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, s.Text())
			close(l.added)
			l.added = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// tail joins the last n of lines.
func tail(lines []string, n int) string {
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// all returns the lines read so far.
func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// wait returns the first line containing s, waiting up to d.
func (l *lineLog) wait(s string, d time.Duration) (string, bool) {
	deadline := time.After(d)
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if strings.Contains(line, s) {
				l.mu.Unlock()
				return line, true
			}
		}
		added := l.added
		l.mu.Unlock()
		select {
		case <-added:
		case <-deadline:
			return "", false
		}
	}
}

// startSluice runs the binary in dir with args and waits for "ready".
func startSluice(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := launch(t, dir, args...)
	if _, ok := p.stdout.wait("ready", 90*time.Second); !ok {
		p.kill()
		t.Fatalf("sluice did not print ready.\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
	if line, ok := p.stdout.wait("HTTP API:", time.Second); ok {
		p.HTTP = strings.TrimSpace(strings.TrimPrefix(line, "HTTP API:"))
	}
	return p
}

// launch starts the binary without waiting for anything.
func launch(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	out, _ := cmd.StdoutPipe()
	errp, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, dir: dir, stdout: newLineLog(out), stderr: newLineLog(errp), exited: make(chan struct{})}
	go func() {
		// Wait may only run once the pipes are read to their end.
		<-p.stdout.eof
		<-p.stderr.eof
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("sluice's log (%s), last lines:\n%s", dir, tail(p.stderr.all(), 200))
		}
	})
	return p
}

// cleanEnv drops SLUICE_* variables so the flags in a test are the whole
// configuration.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(d time.Duration) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(d):
		p.kill()
		p.t.Fatalf("sluice did not exit within %s of SIGTERM.\nstderr:\n%s", d, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// freeKafkaAddr is freeAddr for a Kafka listener: sluice binds a listener
// per backend broker gateway.DefaultNodePortStep ports above the bootstrap port,
// so those ports (for up to 3 brokers) must be free too. A port some
// client connection holds as its local port is not: a test once failed
// binding one. The ports are added to taken, and a port already in it is
// never returned: each probe closes its listener, so the kernel may well
// hand the same port out twice in a row (a test once got one port for both
// listeners).
func freeKafkaAddr(t *testing.T, taken map[int]bool) string {
	t.Helper()
	for range 50 {
		addr := freeAddr(t)
		_, portStr, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(portStr)
		free := port+3*gateway.DefaultNodePortStep <= 65535
		for i := 0; free && i <= 3; i++ {
			p := port + gateway.DefaultNodePortStep*i
			if taken[p] {
				free = false
				break
			}
			if i == 0 {
				continue
			}
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			for i := 0; i <= 3; i++ {
				taken[port+gateway.DefaultNodePortStep*i] = true
			}
			return addr
		}
	}
	t.Fatal("no loopback port found with its broker ports free")
	return ""
}

// localArgs are flags that keep a test's sluice on free loopback ports, all
// of them different.
func localArgs(t *testing.T) []string {
	httpAddr := freeAddr(t)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	port, _ := strconv.Atoi(httpPort)
	taken := map[int]bool{port: true}
	return []string{"--http-addr", httpAddr, "--inbound-addr", freeKafkaAddr(t, taken), "--outbound-addr", freeKafkaAddr(t, taken), "--advertised-host", "127.0.0.1"}
}

func httpDo(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	return httpDoWith(t, &http.Client{Timeout: 30 * time.Second}, method, url, key, body)
}

// httpDoWith is httpDo with client c (e.g. one that trusts sluice's CA).
func httpDoWith(t *testing.T, c *http.Client, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// httpProject is a project as the provisioning API returns it.
type httpProject struct {
	ID      string            `json:"id"`
	APIKeys map[string]string `json:"api_keys"`
}

// createProject provisions a project over HTTP with the organization key.
func createProject(t *testing.T, base, orgID, orgKey, name string) httpProject {
	t.Helper()
	return createProjectWith(t, &http.Client{Timeout: 30 * time.Second}, base, orgID, orgKey, name)
}

// createProjectWith is createProject with client c.
func createProjectWith(t *testing.T, c *http.Client, base, orgID, orgKey, name string) httpProject {
	t.Helper()
	st, body := httpDoWith(t, c, "POST", base+"/3.0/organizations/"+orgID+"/projects", orgKey, fmt.Sprintf(`{"name":%q}`, name))
	var p httpProject
	if err := json.Unmarshal([]byte(body), &p); st != 201 || err != nil || p.ID == "" || p.APIKeys["master"] == "" {
		t.Fatalf("create project: %d %s", st, body)
	}
	return p
}

// clientLog is a franz-go client option that keeps the client's log
// (info and above) and prints its tail when the test fails: what a client
// retried, and why, is otherwise invisible.
func clientLog(t *testing.T) kgo.Opt {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("the test's Kafka client's log, last lines:\n%s", tail(lines, 100))
		}
	})
	return kgo.WithLogger(kgo.BasicLogger(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, time.Now().Format("15:04:05.000 ")+strings.TrimRight(string(p), "\n"))
		return len(p), nil
	}), kgo.LogLevelInfo, nil))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
