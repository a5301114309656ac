package clickhouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// opener returns a storetest open function: every store is a new
// database on the servers.
func opener(addrs []string, cluster string) func(t *testing.T) store.Store {
	return recordingOpener(addrs, cluster, nil)
}

// recordingOpener is opener whose stores pass every statement to rec
// (nil: none).
func recordingOpener(addrs []string, cluster string, rec func(sql string, failed bool)) func(t *testing.T) store.Store {
	var n atomic.Int64
	prefix := fmt.Sprintf("t%d", time.Now().UnixNano())
	return func(t *testing.T) store.Store {
		db := fmt.Sprintf("%s_%d", prefix, n.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cfg := clickhouse.Config{Addrs: addrs, Database: db, Cluster: cluster}
		if rec != nil {
			cfg = clickhouse.Recording(cfg, rec)
		}
		st, err := clickhouse.Open(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("opening the ClickHouse store: %v", err)
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("closing the ClickHouse store: %v", err)
			}
		})
		return st
	}
}

// TestConformance runs every family of the suite on one server.
func TestConformance(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	storetest.Run(t, opener(c.Addrs, ""))
}

// TestConformanceTwoShards runs every family of the suite on two shards:
// sharded local tables, read through Distributed tables.
func TestConformanceTwoShards(t *testing.T) {
	c := clickhousetest.StartForTest(t, 2)
	storetest.Run(t, opener(c.Addrs, clickhousetest.ClusterName))
}

// TestConformanceReplicated runs every family of the suite on one shard
// of two replicas: Replicated local tables (ZooKeeper), read through
// Distributed tables. (Two shards of two replicas pass too: change the 1
// to run them.)
func TestConformanceReplicated(t *testing.T) {
	// The random family smaller than on the other topologies: its SQL is
	// the two-shard suite's (the same Distributed reads); what replicas
	// change, the statements that change tables and rows, the fixed
	// families cover whole.
	t.Setenv("STORETEST_QUERIES", "40")
	t.Setenv("STORETEST_EVENTS", "1000")
	c := clickhousetest.StartReplicatedForTest(t, 1, 2)
	storetest.Run(t, opener(c.Addrs, clickhousetest.ClusterName))
}

// TestStatementsRunOnCurrentClickHouse runs the conformance suite on 18.16
// recording every statement the engine sends, then replays them on chDB,
// a current ClickHouse in process (testdata/replay.py): the engine must
// write only SQL that both run.
func TestStatementsRunOnCurrentClickHouse(t *testing.T) {
	python, err := chdbPython()
	if err != nil {
		t.Fatal(err)
	}
	c := clickhousetest.StartForTest(t, 1)
	t.Setenv("STORETEST_QUERIES", "40")
	t.Setenv("STORETEST_EVENTS", "1000")
	var mu sync.Mutex
	seen := map[string]bool{}
	var stmts []byte
	open := recordingOpener(c.Addrs, "", func(sql string, failed bool) {
		mu.Lock()
		defer mu.Unlock()
		if seen[sql] {
			return
		}
		seen[sql] = true
		line, _ := json.Marshal(map[string]any{"sql": sql, "ok": !failed})
		stmts = append(append(stmts, line...), '\n')
	})
	storetest.Run(t, open)
	settleOnce(t, open(t).(*clickhouse.Store)) // the engine's own statements, beside the contract's
	if t.Failed() {
		return
	}
	path := filepath.Join(t.TempDir(), "statements.jsonl")
	if err := os.WriteFile(path, stmts, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, filepath.Join("testdata", "replay.py"), path).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("replaying %d statements on chDB: %v", len(seen), err)
	}
}

// chdbPython is the Python that has chDB: scripts/clickhouse.sh chdb
// installs it and prints it.
func chdbPython() (string, error) {
	out, err := exec.Command("bash", filepath.Join("..", "..", "..", "scripts", "clickhouse.sh"), "chdb").Output()
	if err != nil {
		return "", fmt.Errorf("scripts/clickhouse.sh chdb: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// settleOnce has st settle a table that a property deletion marked.
func settleOnce(t *testing.T, st *clickhouse.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Insert(ctx, []store.Event{testEvent("a", 0, `,"x":1`), testEvent("b", 1, `,"x":2`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "c", Property: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	settled, err := clickhouse.Settle(ctx, st, time.Now(), 24*time.Hour)
	if err != nil || len(settled) != 1 {
		t.Fatalf("settling: %v %v, want the one marked table settled", settled, err)
	}
}
