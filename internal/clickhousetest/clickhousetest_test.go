package clickhousetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// Two shards start, each answers on its own port and knows the cluster
// of both; a start again on the stopped directory keeps the data; Stop
// frees the ports.
func TestStartStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := Start(ctx, 2, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Addrs) != 2 || c.Addrs[0] == c.Addrs[1] {
		t.Fatalf("addresses %v, want two", c.Addrs)
	}
	for _, a := range c.Addrs {
		conn, err := ch.Open(&ch.Options{Addr: []string{a}})
		if err != nil {
			t.Fatal(err)
		}
		var shards uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = '"+ClusterName+"'").Scan(&shards); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if shards != 2 {
			t.Fatalf("%s knows %d shards of %s, want 2", a, shards, ClusterName)
		}
		if a == c.Addrs[0] {
			if err := conn.Exec(ctx, "CREATE TABLE default.kept (x UInt8) ENGINE = MergeTree ORDER BY x"); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Addrs {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s still listens after Stop", a)
		}
	}

	c, err = Start(ctx, 2, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	conn, err := ch.Open(&ch.Options{Addr: []string{c.Addrs[0]}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'default' AND name = 'kept'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after a restart on the same directory, table kept: %d, %v", n, err)
	}
}

// A killed server comes back on its port with Restart; the other one runs
// on, untouched.
func TestKillRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := StartForTest(t, 2)
	pid := func(i int) string {
		b, err := os.ReadFile(filepath.Join(c.Dir, fmt.Sprintf("server%d", i+1), "pid"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first := pid(0)
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", c.Addrs[1], time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still listens after Kill", c.Addrs[1])
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{c.Addrs[1]}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("%s after Restart: %v", c.Addrs[1], err)
	}
	if pid(0) != first {
		t.Fatalf("Restart restarted the running server too (pid %s, was %s)", pid(0), first)
	}
}

// One shard of two replicas: each server has its own {replica} macro, the
// cluster lists both replicas of the shard, a Replicated table written on
// one is read on the other (through ZooKeeper), and Stop stops ZooKeeper
// too.
func TestReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartReplicated(ctx, 1, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	if len(c.Addrs) != 2 {
		t.Fatalf("addresses %v, want two", c.Addrs)
	}
	macros := map[string]bool{}
	conns := make([]ch.Conn, 2)
	for i, a := range c.Addrs {
		conn, err := ch.Open(&ch.Options{Addr: []string{a}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[i] = conn
		var shard, replica string
		if err := conn.QueryRow(ctx, "SELECT anyIf(substitution, macro = 'shard'), anyIf(substitution, macro = 'replica') FROM system.macros").Scan(&shard, &replica); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if shard != "1" || replica == "" {
			t.Fatalf("%s: macros shard %q replica %q, want shard 1 and a replica", a, shard, replica)
		}
		macros[replica] = true
		var replicas uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = '"+ClusterName+"' AND shard_num = 1").Scan(&replicas); err != nil || replicas != 2 {
			t.Fatalf("%s knows %d replicas of shard 1 (%v), want 2", a, replicas, err)
		}
		if err := conn.Exec(ctx, "CREATE TABLE default.r (x UInt8) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default/r', '{replica}') ORDER BY x"); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	if len(macros) != 2 {
		t.Fatalf("replica macros %v, want two different ones", macros)
	}
	b, err := conns[0].PrepareBatch(ctx, "INSERT INTO default.r (x)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := b.Append(uint8(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := conns[1].Exec(ctx, "SYSTEM SYNC REPLICA default.r"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conns[1].QueryRow(ctx, "SELECT count() FROM default.r").Scan(&n); err != nil || n != 3 {
		t.Fatalf("the other replica has %d rows (%v), want 3", n, err)
	}
	zk, err := os.ReadFile(filepath.Join(c.Dir, "zookeeper", "zoo.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var zkAddr string
	for _, line := range strings.Split(string(zk), "\n") {
		if p, ok := strings.CutPrefix(line, "clientPort="); ok {
			zkAddr = "127.0.0.1:" + p
		}
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range append(c.Addrs, zkAddr) {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s still listens after Stop", a)
		}
	}
}
