package clickhouse

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Topology. On one server, every table is a plain ReplacingMergeTree. On a
// cluster (Config.Cluster), every server holds, for each table T, a local
// table T_l (its shard's rows) and T, a Distributed table over the T_l of
// every shard; statements that change tables run on every server (18.16's
// ON CLUSTER needs ZooKeeper), rows are written by the engine straight
// into the T_l of the shard their key hashes to (so every version of one
// keen.id meets on one shard, where FINAL collapses them), and queries read
// T on any server. "_l" cannot end an enc'd name ("_" is followed by two
// hex digits there), so local tables are never taken for collections.

const localSuffix = "_l"

// onEach runs f on every server: every replica of every shard, or the
// one server.
func (s *Store) onEach(f func(c driver.Conn) error) error {
	if s.replicas != nil {
		for _, rs := range s.replicas {
			for _, c := range rs {
				if err := f(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return s.onShards(f)
}

// onShards runs f once per shard (on its first replica that answers), or
// on the one server: for statements that Replicated tables replicate
// (a mutation, OPTIMIZE).
func (s *Store) onShards(f func(c driver.Conn) error) error {
	if len(s.shards) == 0 {
		return f(s.conn)
	}
	for _, c := range s.shards {
		if err := f(c); err != nil {
			return err
		}
	}
	return nil
}

// createTable creates table name (its columns and MergeTree engine as
// given) if missing, on every server — or, with replicas, on every server
// that answers when each of those has it already (existing).
func (s *Store) createTable(ctx context.Context, name, columns, engine string) error {
	err := s.onEach(func(c driver.Conn) error {
		if s.cluster == "" {
			return c.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s.db+"."+name+" ("+columns+") ENGINE = "+engine)
		}
		if err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s.db+"."+name+localSuffix+" ("+columns+") ENGINE = "+s.localEngine(name+localSuffix, engine)); err != nil {
			return err
		}
		return c.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s.db+"."+name+" AS "+s.db+"."+name+localSuffix+
			" ENGINE = Distributed("+s.cluster+", "+unquote(s.db)+", "+name+localSuffix+")")
	})
	if err != nil && s.existing(ctx, err, []string{name, name + localSuffix}) {
		return nil
	}
	return err
}

// alterTable runs ALTER TABLE name <cmd> (a column change) on every
// server, on the local table first. ok tells an error that is no failure
// (the change is there already, made by another node).
func (s *Store) alterTable(ctx context.Context, name, cmd string, ok func(error) bool) error {
	return s.onEach(func(c driver.Conn) error {
		names := []string{name}
		if s.cluster != "" {
			names = []string{name + localSuffix, name}
		}
		for _, n := range names {
			if err := c.Exec(ctx, "ALTER TABLE "+s.db+"."+n+" "+cmd); err != nil && !ok(err) {
				return err
			}
		}
		return nil
	})
}

// dropTable drops table name on every server.
func (s *Store) dropTable(ctx context.Context, name string) error {
	return s.onEach(func(c driver.Conn) error {
		if err := c.Exec(ctx, "DROP TABLE IF EXISTS "+s.db+"."+name); err != nil {
			return err
		}
		if s.cluster == "" {
			return nil
		}
		return c.Exec(ctx, "DROP TABLE IF EXISTS "+s.db+"."+name+localSuffix)
	})
}

// mutate runs ALTER TABLE <cmd> (a DELETE) on the rows of table name on
// every shard and waits until each server has applied it to every part
// (18.16 has no mutations_sync). A Replicated table replicates the
// mutation: it runs once per shard, and every replica is waited for.
func (s *Store) mutate(ctx context.Context, name, cmd string) error {
	target := name
	if s.cluster != "" {
		target += localSuffix
	}
	if s.replicas != nil {
		for i, c := range s.shards {
			if err := s.mutateReplicated(ctx, c, s.replicas[i], target, cmd); err != nil {
				return err
			}
		}
		return nil
	}
	return s.onEach(func(c driver.Conn) error {
		if err := c.Exec(ctx, "ALTER TABLE "+s.db+"."+target+" "+cmd); err != nil {
			return fmt.Errorf("clickhouse store: ALTER TABLE %s %s: %w", target, firstWords(cmd), err)
		}
		return s.waitMutations(ctx, c, target, "")
	})
}

// waitMutations waits until server c has applied the mutations of table
// target: every one when upTo is "", else up to mutation_id upTo, which
// it must have.
func (s *Store) waitMutations(ctx context.Context, c driver.Conn, target, upTo string) error {
	q := "SELECT count(), countIf(is_done = 0) FROM system.mutations WHERE database = " + str(unquote(s.db)) + " AND table = " + str(target)
	if upTo != "" {
		q = "SELECT countIf(mutation_id = " + str(upTo) + "), countIf(is_done = 0 AND mutation_id <= " + str(upTo) + ") FROM system.mutations WHERE database = " +
			str(unquote(s.db)) + " AND table = " + str(target)
	}
	wait := 5 * time.Millisecond
	for {
		var have, pending uint64
		if err := c.QueryRow(ctx, q).Scan(&have, &pending); err != nil {
			return fmt.Errorf("clickhouse store: waiting for a mutation of %s: %w", target, err)
		}
		if pending == 0 && (upTo == "" || have > 0) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clickhouse store: waiting for a mutation of %s: %w", target, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// insert writes rows (values of columns, in order) into table name: on a
// cluster, each row into the local table of the shard its key hashes to.
func (s *Store) insert(ctx context.Context, name string, columns []string, rows [][]any, key func(row []any) string) error {
	if len(rows) == 0 {
		return nil
	}
	if len(s.shards) == 0 {
		return sendBatch(ctx, s.conn, s.db+"."+name, columns, rows)
	}
	parts := make([][][]any, len(s.shards))
	for _, r := range rows {
		h := fnv.New64a()
		h.Write([]byte(key(r)))
		i := h.Sum64() % uint64(len(s.shards))
		parts[i] = append(parts[i], r)
	}
	for i, part := range parts {
		if len(part) == 0 {
			continue
		}
		if err := sendBatch(ctx, s.shards[i], s.db+"."+name+localSuffix, columns, part); err != nil {
			return err
		}
	}
	return nil
}

// sendBatch inserts rows with one batch. The columns are named: 18.16
// needs them named, and Exec of INSERT … VALUES hangs with this driver.
func sendBatch(ctx context.Context, c driver.Conn, table string, columns []string, rows [][]any) error {
	batch, err := c.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(columns, ", ")+")")
	if err != nil {
		return fmt.Errorf("clickhouse store: inserting into %s: %w", table, err)
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse store: inserting into %s: %w", table, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse store: inserting into %s: %w", table, err)
	}
	return nil
}

func alreadyExists(err error) bool { return strings.Contains(err.Error(), "already exists") }

func notThere(err error) bool {
	return strings.Contains(err.Error(), "doesn't exist") || strings.Contains(err.Error(), "Wrong column name")
}
