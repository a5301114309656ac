package clickhouse_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
)

func TestSettleable(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	at := func(d time.Duration) uint64 { return uint64(now.Add(d).UnixNano()) }
	for _, tc := range []struct {
		name        string
		marks, done []uint64
		ok          bool
	}{
		{"no marks", nil, nil, false},
		{"every mark done", []uint64{at(-time.Minute), at(-time.Second)}, []uint64{at(-time.Second), at(-time.Minute)}, true},
		{"a writer still writing", []uint64{at(-time.Minute), at(-time.Second)}, []uint64{at(-time.Minute)}, false},
		{"a dead writer's mark", []uint64{at(-25 * time.Hour), at(-time.Second)}, []uint64{at(-time.Second)}, true},
		{"done records of other marks do not count", []uint64{at(-time.Second)}, []uint64{at(-2 * time.Second)}, false},
	} {
		if ok := clickhouse.Settleable(tc.marks, tc.done, now, 24*time.Hour); ok != tc.ok {
			t.Errorf("%s: settleable %v, want %v", tc.name, ok, tc.ok)
		}
	}
}

// A table marked by a property deletion (a second row of each event) is
// merged and unmarked by a settling pass, on one server and on two
// shards: afterwards it holds one row per event, its marks are gone, and
// counts are exact. A mark whose writer has not said it is done is left
// until it is older than the dead-writer age.
func TestSettlingUnmarksAMergedTable(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			c := clickhousetest.StartForTest(t, shards)
			ctx := context.Background()
			cfg := clickhouse.Config{Addrs: c.Addrs, Database: "settle"}
			if shards > 1 {
				cfg.Cluster = clickhousetest.ClusterName
			}
			st, err := clickhouse.Open(ctx, cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var evs []store.Event
			for i := range 300 {
				evs = append(evs, testEvent(fmt.Sprintf("id%03d", i), i, fmt.Sprintf(`,"n":%d,"x":1`, i)))
			}
			if _, err := st.Insert(ctx, evs); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "c", Property: []string{"x"}}); err != nil {
				t.Fatal(err)
			}
			conn, err := ch.Open(&ch.Options{Addr: c.Addrs[:1]})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			scalar := func(q string) uint64 {
				t.Helper()
				var n uint64
				if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				return n
			}
			if rows := scalar("SELECT count() FROM settle.e_p__c"); rows < 600 {
				t.Fatalf("%d rows before settling: the deletion did not write a second row of each event", rows)
			}
			// A writer that marked another table and is still writing.
			dirty := "settle.sluice_dirty"
			if shards > 1 {
				dirty += "_l" // the first shard's
			}
			b, err := conn.PrepareBatch(ctx, "INSERT INTO "+dirty+" (tbl, _v)")
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Append("e_p__other", uint64(time.Now().UnixNano())); err != nil {
				t.Fatal(err)
			}
			if err := b.Send(); err != nil {
				t.Fatal(err)
			}

			settled, err := clickhouse.Settle(ctx, st, time.Now(), 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(settled, []string{"e_p__c"}) {
				t.Fatalf("settled %v, want [e_p__c] (e_p__other's writer is not done)", settled)
			}
			if rows := scalar("SELECT count() FROM settle.e_p__c"); rows != 300 {
				t.Errorf("%d rows after settling, want 300 (one per event)", rows)
			}
			// The marks' removal is a mutation: it completes shortly.
			deadline := time.Now().Add(30 * time.Second)
			for scalar("SELECT count() FROM settle.sluice_dirty WHERE tbl = 'e_p__c'") > 0 {
				if time.Now().After(deadline) {
					t.Fatal("e_p__c's marks are still there 30 s after settling")
				}
				time.Sleep(100 * time.Millisecond)
			}
			if n := count(t, st); n != 300 {
				t.Errorf("count after settling %d, want 300", n)
			}
			res, err := st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Count, Filters: []store.Filter{{Path: []string{"x"}, Operator: "exists", Value: true}}})
			if err != nil {
				t.Fatal(err)
			}
			if n := res.Rows[0].Value.(int64); n != 0 {
				t.Errorf("count where the deleted x exists, after settling: %d, want 0", n)
			}
			if n := scalar("SELECT count() FROM settle.sluice_dirty WHERE tbl = 'e_p__other'"); n != 1 {
				t.Errorf("e_p__other has %d marks after settling, want its 1 (its writer is not done)", n)
			}

			settled, err = clickhouse.Settle(ctx, st, time.Now().Add(25*time.Hour), 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(settled, []string{"e_p__other"}) {
				t.Fatalf("a day later settled %v, want [e_p__other] (a dead writer's mark; its table does not exist)", settled)
			}
		})
	}
}
