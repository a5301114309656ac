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
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
)

// One shard of two replicas: events written, the replica that serves the
// shard SIGKILLed; the other serves it at once, with every event written
// before (it had them: replication), and takes Inserts and queries, exact;
// a store opens meanwhile. A new collection (a CREATE on every server) is
// refused. The killed replica, restarted, catches up: both hold the same
// rows, and the counts are exact again; settling merges a marked table on
// both.
func TestReplicaDown(t *testing.T) {
	c := clickhousetest.StartReplicatedForTest(t, 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: c.Addrs, Database: "replicas", Cluster: clickhousetest.ClusterName}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	replica := make([]ch.Conn, 2)
	for i, a := range c.Addrs {
		if replica[i], err = ch.Open(&ch.Options{Addr: []string{a}}); err != nil {
			t.Fatal(err)
		}
		defer replica[i].Close()
	}
	// rows returns the rows of the local table of every table of the
	// database on replica i, after it has done what ZooKeeper's log holds.
	tables := []string{"e_p__c_l", "sluice_claims_l"}
	rows := func(i int) map[string]uint64 {
		t.Helper()
		out := map[string]uint64{}
		for _, tbl := range tables {
			if err := replica[i].Exec(ctx, "SYSTEM SYNC REPLICA replicas."+tbl); err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			var n uint64
			if err := replica[i].QueryRow(ctx, "SELECT count() FROM replicas."+tbl).Scan(&n); err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
			out[tbl] = n
		}
		return out
	}
	events := func(prefix string, from, n int) []store.Event {
		var evs []store.Event
		for i := from; i < from+n; i++ {
			evs = append(evs, testEvent(fmt.Sprintf("%s%04d", prefix, i), i, fmt.Sprintf(`,"n":%d`, i)))
		}
		return evs
	}
	// insert retries as the pipeline does: a connection that broke with
	// the server is found broken on its first use.
	insert := func(evs []store.Event) map[store.Status]int {
		t.Helper()
		var last error
		for range 5 {
			res, err := st.Insert(ctx, evs)
			if err == nil {
				return statuses(res)
			}
			last = err
			time.Sleep(time.Second)
		}
		t.Fatalf("Insert: %v", last)
		return nil
	}
	exact := func(want int) {
		t.Helper()
		var last error
		for range 5 {
			res, err := st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Count})
			if err != nil {
				last = err
				time.Sleep(time.Second)
				continue
			}
			if n := res.Rows[0].Value.(int64); n != int64(want) {
				t.Fatalf("count %d, want %d", n, want)
			}
			res, err = st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Sum, Target: []string{"n"}})
			if err != nil {
				t.Fatalf("sum: %v", err)
			}
			if s, w := res.Rows[0].Value.(float64), float64(want*(want-1)/2); s != w {
				t.Fatalf("sum %v, want %v", s, w)
			}
			return
		}
		t.Fatalf("count: %v", last)
	}

	if got := insert(events("a", 0, 300)); got[store.Stored] != 300 {
		t.Fatalf("first Insert: %v, want 300 Stored", got)
	}
	exact(300)
	if r0, r1 := rows(0), rows(1); fmt.Sprint(r0) != fmt.Sprint(r1) || r0["e_p__c_l"] != 300 {
		t.Fatalf("replicas hold %v and %v, want 300 events on both", r0, r1)
	}

	if err := c.Kill(0); err != nil {
		t.Fatal(err)
	}
	exact(300)
	if got := insert(events("a", 200, 200)); got[store.Existing] != 100 || got[store.Stored] != 100 {
		t.Fatalf("Insert with the first replica down: %v, want 100 Existing and 100 Stored", got)
	}
	exact(400)
	// A node that starts meanwhile opens the store (its database and
	// shared tables are on the live replica) and counts the same.
	st2, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: c.Addrs, Database: "replicas", Cluster: clickhousetest.ClusterName}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("opening the store with the first replica down: %v", err)
	}
	if n := count(t, st2); n != 400 {
		t.Fatalf("a store opened with the first replica down counts %d, want 400", n)
	}
	st2.Close()
	other := events("a", 400, 1)
	other[0].Collection = "other"
	if res, err := st.Insert(ctx, other); err == nil {
		t.Fatalf("Insert into a new collection with a replica down: %v, want an error", res.Outcomes)
	} else if !strings.Contains(err.Error(), "creating table") {
		t.Fatalf("Insert into a new collection with a replica down: %v, want an error creating its table", err)
	}

	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	r0 := rows(0)
	// How long the restarted replica served its shard without the rows
	// written while it was down (docs/clickhouse.md, Replicas).
	t.Logf("the restarted replica caught up %s after it answered again", time.Since(back).Round(time.Millisecond))
	if r1 := rows(1); fmt.Sprint(r0) != fmt.Sprint(r1) || r0["e_p__c_l"] != 400 {
		t.Fatalf("after the restart, replicas hold %v and %v, want 400 events on both", r0, r1)
	}
	exact(400)
	if got := insert(events("a", 400, 100)); got[store.Stored] != 100 {
		t.Fatalf("Insert after the restart: %v, want 100 Stored", got)
	}
	exact(500)
	if r0, r1 := rows(0), rows(1); fmt.Sprint(r0) != fmt.Sprint(r1) || r0["e_p__c_l"] != 500 {
		t.Fatalf("replicas hold %v and %v, want 500 events on both", r0, r1)
	}
	// An Insert that failed when the replica died (its connection broke)
	// and was retried marked the table (whether its rows reached the
	// server is not known): settling merges it on both replicas.
	if n := marks(t, c.Addrs, "replicas"); n > 0 {
		t.Logf("%d marks (an Insert retried after the kill): settling", n)
		// Right after the restart the replicas may still be electing
		// their leader (18.16: "Leader was suddenly changed"); a pass
		// that fails leaves the marks, and the next one settles.
		for attempt := 1; ; attempt++ {
			_, err := clickhouse.Settle(ctx, st, time.Now(), 24*time.Hour)
			if err == nil {
				break
			}
			if attempt == 30 {
				t.Fatal(err)
			}
			t.Logf("settling, attempt %d: %v", attempt, err)
			time.Sleep(time.Second)
		}
		exact(500)
		if r0, r1 := rows(0), rows(1); fmt.Sprint(r0) != fmt.Sprint(r1) || r0["e_p__c_l"] != 500 {
			t.Fatalf("after settling, replicas hold %v and %v, want 500 events on both", r0, r1)
		}
	}
	if n := marks(t, c.Addrs, "replicas"); n != 0 {
		t.Fatalf("%d marks left after settling", n)
	}
}

// TestReplicatedStatementsRunOnCurrentClickHouse records the statements a
// store sends on one shard of two replicas (tables and columns created,
// events written, a property deleted, the table settled, events deleted,
// a collection dropped) and replays those of the Replicated topology on
// chDB (testdata/replay.py --replicated: a Replicated CREATE must fail
// there only for want of ZooKeeper). The statements over the Distributed
// tables are not replayed: chDB knows no cluster; nor are the reads of
// system.zookeeper (chDB has no ZooKeeper). Then a profile without
// load_balancing=in_order is refused.
func TestReplicatedStatementsRunOnCurrentClickHouse(t *testing.T) {
	python, err := chdbPython()
	if err != nil {
		t.Fatal(err)
	}
	c := clickhousetest.StartReplicatedForTest(t, 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var stmts []byte
	seen := map[string]bool{} // once: the DDL runs on each replica
	cfg := clickhouse.Recording(clickhouse.Config{Addrs: c.Addrs, Database: "rec", Cluster: clickhousetest.ClusterName}, func(sql string, failed bool) {
		if !replicatedTopology(sql) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[sql] {
			return
		}
		seen[sql] = true
		line, _ := json.Marshal(map[string]any{"sql": sql, "ok": !failed})
		stmts = append(append(stmts, line...), '\n')
	})
	st, err := clickhouse.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []store.Event
	for i := range 20 {
		evs = append(evs, testEvent(fmt.Sprintf("id%02d", i), i, `,"x":1,"y":"a"`))
	}
	gone := testEvent("gone", 20, `,"x":1`)
	gone.Collection = "gone"
	if _, err := st.Insert(ctx, append(evs, gone)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []store.Deletion{
		{ProjectID: "p", Collection: "c", Property: []string{"x"}},
		{ProjectID: "p", Collection: "c", Events: &store.Query{ProjectID: "p", Collection: "c", Filters: []store.Filter{{Path: []string{"y"}, Operator: "eq", Value: "a"}}}},
		{ProjectID: "p", Collection: "gone"},
	} {
		if _, err := st.Delete(ctx, d); err != nil {
			t.Fatalf("%+v: %v", d, err)
		}
	}
	if settled, err := clickhouse.Settle(ctx, st, time.Now(), 24*time.Hour); err != nil || len(settled) != 1 {
		t.Fatalf("settling: %v %v, want the marked table settled", settled, err)
	}
	if n := count(t, st); n != 0 {
		t.Fatalf("count %d after deleting every event, want 0", n)
	}
	path := filepath.Join(t.TempDir(), "statements.jsonl")
	if err := os.WriteFile(path, stmts, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, filepath.Join("testdata", "replay.py"), "--replicated", path).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("replaying the replicated statements on chDB: %v", err)
	}

	// A profile that would read any replica is refused, naming the
	// setting (the server reloads users.xml by itself).
	users := filepath.Join(c.Dir, "server1", "users.xml")
	b, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(users, []byte(strings.Replace(string(b), "<load_balancing>in_order</load_balancing>", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		st, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: c.Addrs[:1], Database: "rec", Cluster: clickhousetest.ClusterName}, slog.New(slog.DiscardHandler))
		if err != nil {
			if !strings.Contains(err.Error(), `load_balancing is "random", want "in_order"`) {
				t.Fatalf("opening with load_balancing random: %v, want it refused naming load_balancing", err)
			}
			break
		}
		st.Close()
		if time.Now().After(deadline) {
			t.Fatal("the store still opens a minute after load_balancing was removed from the profile")
		}
	}
}

// replicatedTopology says whether sql is one chDB can replay without the
// cluster: on the database, local tables (…_l) or system tables.
func replicatedTopology(sql string) bool {
	switch {
	case strings.Contains(sql, "ENGINE = Distributed"):
		return false
	case strings.HasPrefix(sql, "CREATE DATABASE"), strings.HasPrefix(sql, "SYSTEM SYNC REPLICA"),
		strings.Contains(sql, "ENGINE = Replicated"):
		return true
	}
	for _, p := range []string{"ALTER TABLE ", "OPTIMIZE TABLE ", "INSERT INTO "} {
		if rest, ok := strings.CutPrefix(sql, p); ok {
			name, _, _ := strings.Cut(rest, " ")
			return strings.HasSuffix(name, "_l")
		}
	}
	// system.zookeeper needs ZooKeeper: not in chDB.
	return strings.HasPrefix(sql, "SELECT") && strings.Contains(sql, " FROM system.") && !strings.Contains(sql, "system.zookeeper")
}

func TestReplicatedEngine(t *testing.T) {
	for _, c := range []struct{ engine, want string }{
		{"MergeTree ORDER BY tbl", "ReplicatedMergeTree('/z/d/t', '{replica}') ORDER BY tbl"},
		{"MergeTree ORDER BY (src, off, project, id)", "ReplicatedMergeTree('/z/d/t', '{replica}') ORDER BY (src, off, project, id)"},
		{"ReplacingMergeTree(_v) ORDER BY _id", "ReplicatedReplacingMergeTree('/z/d/t', '{replica}', _v) ORDER BY _id"},
		{"ReplacingMergeTree() ORDER BY _id", "ReplicatedReplacingMergeTree('/z/d/t', '{replica}') ORDER BY _id"},
	} {
		if got := clickhouse.ReplicatedEngine("/z/d/t", c.engine); got != c.want {
			t.Errorf("%q: %q, want %q", c.engine, got, c.want)
		}
	}
}
