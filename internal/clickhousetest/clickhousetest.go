// Package clickhousetest runs real ClickHouse servers for integration tests.
//
// The servers are Debian's clickhouse-server, installed and started by
// scripts/clickhouse.sh (plain foreground processes in a directory of their
// own, loopback only); this package picks ports, runs the script and stops
// the servers. A missing server fails the test rather than skips it: a
// silently skipped conformance suite is worse than a red one.
package clickhousetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/scripttest"
)

// Cluster is a set of running servers started by Start.
type Cluster struct {
	// Addrs are the servers' native-protocol addresses (host:port), in
	// server order: shard by shard, each shard's replicas in turn. Every
	// server knows the cluster "sluice" of all of them.
	Addrs []string
	// Dir holds DIR/serverN/{config.xml,server.log,server.err.log,data/}
	// (and DIR/zookeeper with replicas).
	Dir string

	script   string
	ownsDir  bool
	shards   int
	replicas int
	base     int // the first server's port

	stopOnce sync.Once
	stopErr  error
}

// ClusterName is the name of the cluster (remote_servers) every server
// started here knows: one shard per server.
const ClusterName = "sluice"

// Start installs ClickHouse if needed and starts shards servers (1 or 2)
// in dir (a new temporary directory, removed by Stop, when dir is "").
func Start(ctx context.Context, shards int, dir string) (*Cluster, error) {
	return StartReplicated(ctx, shards, 1, dir)
}

// StartReplicated is Start with replicas servers (1 or 2) per shard; with
// 2, ZooKeeper too, and every local table sluice creates is Replicated.
func StartReplicated(ctx context.Context, shards, replicas int, dir string) (*Cluster, error) {
	if shards != 1 && shards != 2 {
		return nil, fmt.Errorf("clickhousetest: shards must be 1 or 2, got %d", shards)
	}
	if replicas != 1 && replicas != 2 {
		return nil, fmt.Errorf("clickhousetest: replicas must be 1 or 2, got %d", replicas)
	}
	root, err := scripttest.RepoRoot()
	if err != nil {
		return nil, err
	}
	c := &Cluster{script: filepath.Join(root, "scripts", "clickhouse.sh"), Dir: dir, shards: shards, replicas: replicas}
	servers := shards * replicas
	// Each server takes its native port and the next (interserver HTTP,
	// with replicas); ZooKeeper takes the slot after the last server.
	slots, perSlot := servers, 1
	if replicas > 1 {
		slots, perSlot = servers+1, 2
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "sluice-clickhouse-"); err != nil {
			return nil, fmt.Errorf("clickhousetest: %w", err)
		}
		c.ownsDir = true
	}
	var out string
	for attempt := 1; ; attempt++ {
		base, err := scripttest.FreeBasePort(slots, perSlot)
		if err != nil {
			c.cleanupDir()
			return nil, err
		}
		c.base = base
		out, err = c.start(ctx)
		if err == nil {
			break
		}
		c.stopServers()
		// Probing ports races other test packages doing the same.
		if attempt < 3 && ctx.Err() == nil && strings.Contains(err.Error(), "already in use") {
			continue
		}
		c.cleanupDir()
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	c.Addrs = strings.Split(lines[len(lines)-1], ",")
	if len(c.Addrs) != servers {
		_ = c.Stop(context.Background())
		return nil, fmt.Errorf("clickhousetest: scripts/clickhouse.sh start printed %q, want %d addresses", out, servers)
	}
	return c, nil
}

// StartForTest starts servers for t in t.TempDir() and stops them when t's
// cleanup runs; when t has failed, the tail of every server's error log is
// logged first.
func StartForTest(t testing.TB, shards int) *Cluster {
	t.Helper()
	return StartReplicatedForTest(t, shards, 1)
}

// StartReplicatedForTest is StartForTest with replicas servers per shard
// (StartReplicated).
func StartReplicatedForTest(t testing.TB, shards, replicas int) *Cluster {
	t.Helper()
	// Generous: the first run may install the packages.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := StartReplicated(ctx, shards, replicas, t.TempDir())
	if err != nil {
		t.Fatalf("clickhousetest: %v", err)
	}
	t.Logf("clickhousetest: %d shard(s) of %d replica(s) up in %s: %s", shards, replicas, time.Since(start).Round(time.Millisecond), strings.Join(c.Addrs, ","))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("clickhousetest: server logs of %s:\n%s", c.Dir, c.LogTail(30))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("clickhousetest: %v", err)
		}
	})
	return c
}

// Stop stops every server and ZooKeeper (SIGTERM, SIGKILL after 15 s) and, if Start
// created the directory, removes it. Calling it again returns the first
// result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		_, c.stopErr = c.run(ctx, "stop", "--dir", c.Dir)
		c.cleanupDir()
	})
	return c.stopErr
}

// Kill SIGKILLs server i (0-based, in Addrs' order), as a crash would, and returns once it
// has exited. Stop still cleans up the others.
func (c *Cluster) Kill(i int) error {
	pidFile := filepath.Join(c.Dir, fmt.Sprintf("server%d", i+1), "pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("clickhousetest: server %d: %w", i, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("clickhousetest: %s: %w", pidFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("clickhousetest: killing server %d (pid %d): %w", i, pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
	}
	return fmt.Errorf("clickhousetest: server %d (pid %d) still runs after SIGKILL", i, pid)
}

// Restart starts again the servers Kill stopped, with their data and
// ports, and returns once they answer.
func (c *Cluster) Restart(ctx context.Context) error {
	_, err := c.start(ctx)
	return err
}

func (c *Cluster) start(ctx context.Context) (string, error) {
	return c.run(ctx, "start", "--dir", c.Dir, "--shards", strconv.Itoa(c.shards),
		"--replicas", strconv.Itoa(c.replicas), "--port", strconv.Itoa(c.base),
		// If the test binary dies without Stop, the script's watchdog
		// stops the servers.
		"--owner-pid", strconv.Itoa(os.Getpid()))
}

// LogTail returns the last n lines of every server's error log.
func (c *Cluster) LogTail(n int) string {
	return scripttest.LogTails(filepath.Join(c.Dir, "server*", "server.err.log"), n)
}

func (c *Cluster) run(ctx context.Context, args ...string) (string, error) {
	out, err := scripttest.Run(ctx, c.script, args...)
	if err != nil {
		return "", fmt.Errorf("clickhousetest: %w", err)
	}
	return out, nil
}

func (c *Cluster) stopServers() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = c.run(ctx, "stop", "--dir", c.Dir)
}

func (c *Cluster) cleanupDir() {
	if c.ownsDir {
		_ = os.RemoveAll(c.Dir)
	}
}
