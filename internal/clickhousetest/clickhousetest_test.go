package clickhousetest

import (
	"context"
	"net"
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
