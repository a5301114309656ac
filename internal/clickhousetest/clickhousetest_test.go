package clickhousetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
