// Package kafkatest runs real Apache Kafka clusters for integration tests.
//
// kfake answers most gateway tests, but claims about versions, error codes,
// group behaviour and replication need the real broker. The clusters are
// started by scripts/kafka.sh (KRaft, combined broker+controller nodes, jars
// from Maven Central); this package only picks ports, runs the script and
// waits until the brokers agree on the cluster's membership.
//
// Java 17+ and Maven must be installed. Missing tools fail the test rather
// than skip it: a silently skipped conformance suite is worse than a red one.
package kafkatest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The SASL account every SASL listener accepts, for PLAIN and both SCRAM
// mechanisms (must match scripts/kafka.sh).
const (
	User     = "admin"
	Password = "admin-secret"
)

// Options selects the cluster shape.
type Options struct {
	// Brokers is the number of combined broker+controller nodes: 1 or 3
	// (up to 5 work). Zero means 1.
	Brokers int
	// SASL adds a SASL_SSL listener per node (PLAIN, SCRAM-SHA-256,
	// SCRAM-SHA-512; User/Password) with a CA generated for the cluster.
	SASL bool
	// Dir holds the nodes' configs, logs and data. Empty means a new
	// temporary directory that Stop removes. A Dir that holds a stopped
	// cluster restarts it, data kept, on new ports.
	Dir string
	// Props are extra broker properties for every node, e.g. an authorizer.
	Props map[string]string
}

// Cluster is a running cluster started by Start.
type Cluster struct {
	// Bootstrap lists the PLAINTEXT listeners, one per node.
	Bootstrap []string
	// SASLBootstrap lists the SASL_SSL listeners (only with Options.SASL).
	SASLBootstrap []string
	// CAFile is the PEM CA that signed the SASL_SSL listeners' certificate
	// (SANs 127.0.0.1 and localhost).
	CAFile string
	// SASLClientConfig is a Java client .properties file (SASL_SSL, PLAIN,
	// the CA as PEM truststore) for the console tools' --producer.config,
	// --consumer.config or --command-config.
	SASLClientConfig string
	// Dir is the cluster's directory: DIR/nodeN/server.log and friends.
	Dir string

	script  string
	brokers int
	ownsDir bool

	stopOnce sync.Once
	stopErr  error
}

// Start fetches the Kafka jars if needed and starts a cluster. It returns
// once every broker serves and a metadata request lists all of them.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	n := opts.Brokers
	if n == 0 {
		n = 1
	}
	if n < 1 || n > 5 {
		return nil, fmt.Errorf("kafkatest: Brokers must be 1..5, got %d", n)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		script:  filepath.Join(root, "scripts", "kafka.sh"),
		brokers: n,
		Dir:     opts.Dir,
	}
	if _, err := c.run(ctx, "fetch"); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "sluice-kafka-"); err != nil {
			return nil, fmt.Errorf("kafkatest: %w", err)
		}
		c.ownsDir = true
	}

	args := []string{"start", "--dir", c.Dir, "--brokers", strconv.Itoa(n),
		// If the test binary dies without running Stop (timeout panic,
		// SIGKILL), the script's watchdog stops the JVMs.
		"--owner-pid", strconv.Itoa(os.Getpid())}
	if opts.SASL {
		args = append(args, "--sasl")
	}
	keys := make([]string, 0, len(opts.Props))
	for k := range opts.Props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--set", k+"="+opts.Props[k])
	}

	// Only storage this call formatted may be wiped for a retry; a Dir that
	// holds a stopped cluster is being restarted and keeps its data.
	_, statErr := os.Stat(filepath.Join(c.Dir, "cluster.id"))
	fresh := errors.Is(statErr, os.ErrNotExist)

	var out string
	for attempt := 1; ; attempt++ {
		base, err := freeBasePort(n)
		if err != nil {
			c.cleanupDir()
			return nil, err
		}
		out, err = c.run(ctx, append(args, "--port", strconv.Itoa(base))...)
		if err == nil {
			break
		}
		// The script stops what it started when it fails or is sent
		// SIGTERM, but not if WaitDelay had to SIGKILL it.
		c.stopNodes()
		// Probing ports is racy against other processes (parallel test
		// packages do the same); a lost race shows up as a bind failure.
		if fresh && attempt < 3 && ctx.Err() == nil && strings.Contains(err.Error(), "Address already in use") {
			c.wipeNodes()
			continue
		}
		c.cleanupDir()
		return nil, err
	}
	if err := c.parse(out); err != nil {
		_ = c.Stop(context.Background())
		return nil, err
	}
	if err := c.waitMetadata(ctx); err != nil {
		_ = c.Stop(context.Background())
		return nil, err
	}
	return c, nil
}

// StartForTest starts a cluster for t and stops it when t's cleanup runs.
// Without opts.Dir the cluster lives in t.TempDir(); when t has failed,
// the tail of every broker log is logged before it is removed.
func StartForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	// Generous: a cold fetch downloads ~55 MB from Maven Central.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Logf("kafkatest: %d broker(s) up in %s: %s", c.brokers, time.Since(start).Round(time.Millisecond), strings.Join(c.Bootstrap, ","))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kafkatest: broker logs of %s:\n%s", c.Dir, c.LogTail(30))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("kafkatest: %v", err)
		}
	})
	return c
}

// Stop stops every node (SIGTERM, SIGKILL after 20 s) and, if Start created
// the directory, removes it. Calling it again returns the first result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		if _, err := c.run(ctx, "stop", "--dir", c.Dir); err != nil {
			c.stopErr = err
			return
		}
		c.cleanupDir()
	})
	return c.stopErr
}

// Tool returns a command running a Kafka command-line tool's main class
// with the cluster's jars, e.g. org.apache.kafka.tools.ConsoleProducer,
// org.apache.kafka.tools.consumer.ConsoleConsumer or
// org.apache.kafka.tools.TopicCommand. The caller adds --bootstrap-server.
// Its stdout is the tool's own output; log4j warnings go to stderr.
func (c *Cluster) Tool(ctx context.Context, class string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.script, "tools", class}, args...)...)
	// The script execs java, so this signals the JVM itself; SIGTERM lets
	// the console producer flush what it has read.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// LogTail returns the last n lines of every node's server.log.
func (c *Cluster) LogTail(n int) string {
	var b strings.Builder
	nodes, _ := filepath.Glob(filepath.Join(c.Dir, "node*", "server.log"))
	for _, f := range nodes {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "----- %s -----\n%s\n", f, strings.Join(lines, "\n"))
	}
	return b.String()
}

// RepoRoot is the nearest directory at or above the working directory that
// holds go.mod; go test runs in the package directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("kafkatest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kafkatest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// run executes scripts/kafka.sh and returns its stdout; the error carries
// its stderr, which holds the reason and, for start, the broker log tails.
func (c *Cluster) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.script}, args...)...)
	// SIGTERM, not SIGKILL: the script's trap then stops half-started JVMs.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kafkatest: scripts/kafka.sh %s: %w\n%s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (c *Cluster) stopNodes() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = c.run(ctx, "stop", "--dir", c.Dir)
}

// wipeNodes forgets a failed attempt's storage, which was formatted for
// ports the retry will not use.
func (c *Cluster) wipeNodes() {
	nodes, _ := filepath.Glob(filepath.Join(c.Dir, "node*"))
	for _, n := range nodes {
		_ = os.RemoveAll(n)
	}
	_ = os.Remove(filepath.Join(c.Dir, "cluster.id"))
}

func (c *Cluster) cleanupDir() {
	if c.ownsDir {
		_ = os.RemoveAll(c.Dir)
	}
}

// parse reads start's stdout: optional ca= and sasl= lines, then the
// PLAINTEXT bootstrap list as the last line.
func (c *Cluster) parse(out string) error {
	var last string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "ca="):
			c.CAFile = strings.TrimPrefix(line, "ca=")
		case strings.HasPrefix(line, "sasl="):
			c.SASLBootstrap = strings.Split(strings.TrimPrefix(line, "sasl="), ",")
		default:
			last = line
		}
	}
	if last == "" || strings.Contains(last, "=") {
		return fmt.Errorf("kafkatest: no bootstrap list in scripts/kafka.sh start output %q", out)
	}
	c.Bootstrap = strings.Split(last, ",")
	if len(c.Bootstrap) != c.brokers {
		return fmt.Errorf("kafkatest: %d bootstrap addresses for %d brokers: %q", len(c.Bootstrap), c.brokers, last)
	}
	if c.CAFile != "" {
		c.SASLClientConfig = filepath.Join(c.Dir, "client-sasl.properties")
	}
	return nil
}

// waitMetadata polls until a broker's metadata lists every broker and a
// controller. "Kafka Server started" in each log means each broker is
// unfenced, but the others learn of it through metadata propagation, and a
// test that creates an RF 3 topic right away must not race that.
func (c *Cluster) waitMetadata(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap...))
	if err != nil {
		return fmt.Errorf("kafkatest: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last string
	for {
		req := kmsg.NewPtrMetadataRequest()
		resp, err := req.RequestWith(ctx, cl)
		switch {
		case err != nil:
			last = err.Error()
		case len(resp.Brokers) != c.brokers || resp.ControllerID < 0:
			last = fmt.Sprintf("%d of %d brokers, controller %d", len(resp.Brokers), c.brokers, resp.ControllerID)
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: cluster metadata incomplete (%s): %w\n%s", last, ctx.Err(), c.LogTail(20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freeBasePort finds a base port whose node ports (base+10*i+{0,1,2}) are
// all free. It stays below Linux's ephemeral range (32768+) so outgoing
// connections cannot take a port between the probe and the broker's bind.
func freeBasePort(brokers int) (int, error) {
	const lo, hi = 20000, 32000
	for range 100 {
		base := lo + 10*rand.IntN((hi-lo-10*brokers)/10)
		if portsFree(base, brokers) {
			return base, nil
		}
	}
	return 0, errors.New("kafkatest: no free port range found")
}

func portsFree(base, brokers int) bool {
	for i := range brokers {
		for off := range 3 {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+10*i+off)))
			if err != nil {
				return false
			}
			_ = l.Close()
		}
	}
	return true
}
