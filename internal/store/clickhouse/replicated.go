package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Replicas (docs/clickhouse.md, "Replicas"). When a shard of the cluster
// has several replicas (system.clusters), every local table is the
// Replicated variant of its engine, its ZooKeeper path made of the
// database, the table and the server's {shard} macro, its replica name the
// server's {replica} macro; the replicas copy each other's parts through
// ZooKeeper, asynchronously.
//
// One replica of each shard serves it: the first of the cluster's order
// that answers. The engine writes a shard's rows through a connection to
// its replicas in that order, and its reads through the Distributed tables
// say load_balancing=in_order and prefer_localhost_replica=0 (the user's
// profile must: checkSettings), so that the server that runs a query asks
// the same replica. While that replica lives, every read and write of its
// shard is on one server, so what holds on one server (Exactly once)
// holds. The others are hot standbys.
//
// Statements that change tables run on every server (onEach), as on a
// cluster without replicas: CREATE and DROP are per replica, and an ALTER
// of columns that another replica has already replicated says "already
// exists" or "doesn't exist", taken for success. Mutations and OPTIMIZE
// are replicated, so they run once per shard (onShards), and the engine
// waits for every replica of the shard.

// zkRoot is where the Replicated tables keep their ZooKeeper nodes.
const zkRoot = "/clickhouse/tables/{shard}/"

// requiredSettings are the settings the engine's user must have (its
// profile: this driver cannot send load_balancing to 18.16, whose protocol
// sends settings as numbers) when the shards have replicas.
var requiredSettings = map[string]string{"load_balancing": "in_order", "prefer_localhost_replica": "0"}

// checkSettings refuses a profile without requiredSettings, naming them.
func checkSettings(ctx context.Context, conn driver.Conn) error {
	var bad []string
	for name, want := range requiredSettings {
		var got string
		if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = "+str(name)).Scan(&got); err != nil {
			return fmt.Errorf("clickhouse store: reading setting %s: %w", name, err)
		}
		if got != want {
			bad = append(bad, fmt.Sprintf("%s is %q, want %q", name, got, want))
		}
	}
	if bad != nil {
		sort.Strings(bad)
		return fmt.Errorf("clickhouse store: the shards have replicas, and sluice's ClickHouse user must read each shard from the replica it writes to: set in its profile (users.xml) %s", strings.Join(bad, "; "))
	}
	return nil
}

// hasReplicas says whether a shard of shards (each the addresses of its
// replicas) has more than one replica.
func hasReplicas(shards [][]string) bool {
	for _, rs := range shards {
		if len(rs) > 1 {
			return true
		}
	}
	return false
}

// localEngine is the engine of local table name: engine as given, or its
// Replicated variant when the shards have replicas.
func (s *Store) localEngine(name, engine string) string {
	if s.replicas == nil {
		return engine
	}
	return replicatedEngine(zkRoot+unquote(s.db)+"/"+name, engine)
}

// replicatedEngine turns a MergeTree-family engine clause ("MergeTree
// ORDER BY …", "ReplacingMergeTree(_v) ORDER BY …") into its Replicated
// variant with ZooKeeper path zk and the {replica} macro.
func replicatedEngine(zk, engine string) string {
	name, rest, _ := strings.Cut(engine, " ")
	args := "'" + zk + "', '{replica}'"
	if fn, params, ok := strings.Cut(name, "("); ok {
		name = fn
		if params = strings.TrimSuffix(params, ")"); params != "" {
			args += ", " + params
		}
	}
	return "Replicated" + name + "(" + args + ") " + rest
}

// mutateReplicated runs ALTER TABLE target <cmd> on a shard (conn, its
// first replica that answers: ZooKeeper hands the mutation to the others)
// and waits until each of its replicas has applied it.
func (s *Store) mutateReplicated(ctx context.Context, conn driver.Conn, replicas []driver.Conn, target, cmd string) error {
	if err := conn.Exec(ctx, "ALTER TABLE "+s.db+"."+target+" "+cmd); err != nil {
		return fmt.Errorf("clickhouse store: ALTER TABLE %s %s: %w", target, firstWords(cmd), err)
	}
	// Its id is the newest node under the table's mutations in
	// ZooKeeper: a replica's system.mutations shows a new mutation only
	// once it has pulled it, which may be after the ALTER returned.
	var zk string
	if err := conn.QueryRow(ctx, "SELECT zookeeper_path FROM system.replicas WHERE database = "+str(unquote(s.db))+
		" AND table = "+str(target)).Scan(&zk); err != nil {
		return fmt.Errorf("clickhouse store: reading the ZooKeeper path of %s: %w", target, err)
	}
	var id string
	if err := conn.QueryRow(ctx, "SELECT max(name) FROM system.zookeeper WHERE path = "+str(zk+"/mutations")).Scan(&id); err != nil || id == "" {
		return fmt.Errorf("clickhouse store: reading the mutation of %s (%q): %w", target, id, err)
	}
	for _, r := range replicas {
		if err := s.waitMutations(ctx, r, target, id); err != nil {
			return err
		}
	}
	return nil
}

// syncReplicas waits until every replica of every shard has done what
// ZooKeeper's log holds for table target (SYSTEM SYNC REPLICA): after a
// replicated OPTIMIZE, each has merged. A replica that does not answer is
// an error.
func (s *Store) syncReplicas(ctx context.Context, target string) error {
	for _, rs := range s.replicas {
		for _, r := range rs {
			if err := r.Exec(ctx, "SYSTEM SYNC REPLICA "+s.db+"."+target); err != nil {
				return fmt.Errorf("clickhouse store: waiting for the replicas of %s: %w", target, err)
			}
		}
	}
	return nil
}

// onLive runs f on every server that answers (every server when the
// shards have no replicas) and returns how many answered. A replica that
// does not answer is skipped when another replica of its shard answers: its
// shard is served by that one.
func (s *Store) onLive(f func(c driver.Conn) error) (int, error) {
	if s.replicas == nil {
		n := 0
		err := s.onEach(func(c driver.Conn) error { n++; return f(c) })
		return n, err
	}
	n := 0
	for i, rs := range s.replicas {
		live := 0
		var down error
		for _, c := range rs {
			err := f(c)
			if err != nil && unreachable(err) {
				down = err
				continue
			}
			if err != nil {
				return n, err
			}
			live++
		}
		if live == 0 {
			return n, fmt.Errorf("no replica of shard %d answers: %w", i+1, down)
		}
		n += live
	}
	return n, nil
}

// unreachable says whether err is a server that cannot be connected to.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF)
}

// existing says whether err, from a statement that creates tables (or
// the database, tables nil) on every server, is a replica that does not
// answer while every server that answers has them already: the replica
// has them too (it had them before it stopped), so the statement had
// nothing to do. A table created while a replica is down is not: that
// replica would come back without it.
func (s *Store) existing(ctx context.Context, err error, tables []string) bool {
	if s.replicas == nil || !unreachable(err) {
		return false
	}
	q := "SELECT count() FROM system.databases WHERE name = " + str(unquote(s.db))
	want := uint64(1)
	if tables != nil {
		q = "SELECT count() FROM system.tables WHERE database = " + str(unquote(s.db)) + " AND name IN (" + strList(tables) + ")"
		want = uint64(len(tables))
	}
	missing := false
	_, lerr := s.onLive(func(c driver.Conn) error {
		var n uint64
		err := c.QueryRow(ctx, q).Scan(&n)
		if err == nil && n < want {
			missing = true
		}
		return err
	})
	return lerr == nil && !missing
}
