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
	"context"
	"errors"
	"fmt"
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

	"github.com/sluice-io/sluice/internal/scripttest"
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
		base, err := scripttest.FreeBasePort(n, 3) // each node: base+10*i+{0,1,2}
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
	return scripttest.LogTails(filepath.Join(c.Dir, "node*", "server.log"), n)
}

// RepoRoot is the repository's root (scripttest.RepoRoot).
func RepoRoot() (string, error) { return scripttest.RepoRoot() }

// run executes scripts/kafka.sh and returns its stdout; the error carries
// its stderr, which holds the reason and, for start, the broker log tails.
func (c *Cluster) run(ctx context.Context, args ...string) (string, error) {
	out, err := scripttest.Run(ctx, c.script, args...)
	if err != nil {
		return "", fmt.Errorf("kafkatest: %w", err)
	}
	return out, nil
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
