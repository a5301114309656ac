package clickhouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testEvent is an event of collection "c" of project "p" with props
// (JSON members, already encoded) beside its keen object, from position i
// of a raw topic's 3 partitions, as the pipeline gives them.
func testEvent(id string, i int, props string) store.Event {
	ts := t0.Add(time.Duration(i) * time.Second)
	created := ts.Add(time.Millisecond)
	js := fmt.Sprintf(`{"keen":{"id":%q,"timestamp":%q,"created_at":%q}%s}`, id,
		ts.Format("2006-01-02T15:04:05.000Z"), created.Format("2006-01-02T15:04:05.000Z"), props)
	return store.Event{ProjectID: "p", Collection: "c", ID: id, Timestamp: ts, CreatedAt: created, JSON: []byte(js), ValidUTF8: true,
		Source: store.Source{Topic: "raw.p.c", Partition: int32(i % 3), Offset: int64(i / 3)}}
}

func openDB(t *testing.T, addrs []string, db string, l limits.Config) *clickhouse.Store {
	t.Helper()
	return openConfig(t, clickhouse.Config{Addrs: addrs, Database: db}, l)
}

// openConfig opens a store of configuration cfg, closed when t ends.
func openConfig(t testing.TB, cfg clickhouse.Config, l limits.Config) *clickhouse.Store {
	t.Helper()
	st, err := clickhouse.OpenLimits(context.Background(), cfg, slog.New(slog.DiscardHandler), l)
	if err != nil {
		t.Fatalf("opening the ClickHouse store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func count(t *testing.T, st store.Store) int64 {
	t.Helper()
	res, err := st.Run(context.Background(), store.Query{ProjectID: "p", Collection: "c", Analysis: store.Count})
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return res.Rows[0].Value.(int64)
}

// delayWrite takes the rows of table (db.name) out into db.name_late and
// returns what puts them back: a writer that claimed its keen.ids and
// whose write of the events lands only later (a node stalled, or dying
// and leaving claims without events), while another node writes the same
// events.
func delayWrite(t *testing.T, conn ch.Conn, table string) (land func()) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{"CREATE TABLE " + table + "_late AS " + table, "INSERT INTO " + table + "_late SELECT * FROM " + table, "TRUNCATE TABLE " + table} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return func() {
		t.Helper()
		if err := conn.Exec(ctx, "INSERT INTO "+table+" SELECT * FROM "+table+"_late"); err != nil {
			t.Fatal(err)
		}
	}
}

// marks is how many marks of tables that may hold copies db has.
func marks(t *testing.T, addrs []string, db string) uint64 {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".sluice_dirty").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func statuses(res store.InsertResult) map[store.Status]int {
	m := map[store.Status]int{}
	for _, o := range res.Outcomes {
		m[o.Status]++
	}
	return m
}

// Two stores on one database are two sluice nodes, or one node before and
// after a restart: what one stored, the other knows as Existing, with the
// JSON the first stored, and both count the same.
func TestIdempotentAcrossNodes(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	a := openDB(t, c.Addrs, "nodes", limits.Default())
	b := openDB(t, c.Addrs, "nodes", limits.Default())
	ctx := context.Background()
	var first, again []store.Event
	for i := range 100 {
		first = append(first, testEvent(fmt.Sprintf("id%03d", i), i, fmt.Sprintf(`,"n":%d`, i)))
	}
	res, err := a.Insert(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res); got[store.Stored] != 100 {
		t.Fatalf("node a: outcomes %v, want 100 stored", got)
	}
	for i := range 150 {
		ev := testEvent(fmt.Sprintf("id%03d", i), i, fmt.Sprintf(`,"n":%d,"again":true`, i))
		again = append(again, ev)
	}
	res, err = b.Insert(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res); got[store.Existing] != 100 || got[store.Stored] != 50 {
		t.Fatalf("node b: outcomes %v, want 100 existing and 50 stored", got)
	}
	for i, o := range res.Outcomes[:100] {
		if string(o.JSON) != string(first[i].JSON) {
			t.Fatalf("node b: event %d Existing with JSON %s, want what node a stored: %s", i, o.JSON, first[i].JSON)
		}
	}
	if na, nb := count(t, a), count(t, b); na != 150 || nb != 150 {
		t.Fatalf("counts %d (a) and %d (b), want 150", na, nb)
	}
	// Nothing was written twice: the table is read without FINAL.
	if n := marks(t, c.Addrs, "nodes"); n != 0 {
		t.Fatalf("%d marks of tables that may hold copies, want none", n)
	}
}

// A collection another node deleted: this node, which created its table
// and remembers it, stores the collection's next events at once (a new
// table), on one server and on two shards.
func TestCollectionDeletedByAnotherNode(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			c := clickhousetest.StartForTest(t, shards)
			cfg := clickhouse.Config{Addrs: c.Addrs, Database: "gone"}
			if shards > 1 {
				cfg.Cluster = clickhousetest.ClusterName
			}
			a, b := openConfig(t, cfg, limits.Default()), openConfig(t, cfg, limits.Default())
			ctx := context.Background()
			var evs []store.Event
			for i := range 20 {
				evs = append(evs, testEvent(fmt.Sprintf("id%03d", i), i, fmt.Sprintf(`,"n":%d`, i)))
			}
			if _, err := a.Insert(ctx, evs[:10]); err != nil {
				t.Fatal(err)
			}
			if d, err := b.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "c"}); err != nil || d.Events != 10 {
				t.Fatalf("node b deleted %+v (%v), want 10 events", d, err)
			}
			res, err := a.Insert(ctx, evs[10:])
			if err != nil {
				t.Fatalf("node a, after node b deleted the collection: %v", err)
			}
			if got := statuses(res); got[store.Stored] != 10 {
				t.Fatalf("outcomes %v, want 10 stored", got)
			}
			if na, nb := count(t, a), count(t, b); na != 10 || nb != 10 {
				t.Fatalf("counts %d (a) and %d (b), want 10", na, nb)
			}
		})
	}
}

// A node that claimed events and stalled before its write of them landed
// (or died, leaving claims without events): another node processes them
// again and writes them, then the first write lands. Every query still
// counts each keen.id once.
func TestEventsWrittenTwiceCountOnce(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	a := openDB(t, c.Addrs, "twice", limits.Default())
	ctx := context.Background()
	var evs []store.Event
	for i := range 200 {
		evs = append(evs, testEvent(fmt.Sprintf("id%03d", i), i, fmt.Sprintf(`,"n":%d,"g":"%c"`, i, 'a'+i%3)))
	}
	if _, err := a.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	conn, err := ch.Open(&ch.Options{Addr: c.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	land := delayWrite(t, conn, "twice.e_p__c")
	if n := count(t, a); n != 0 {
		t.Fatalf("count %d before either write landed, want 0", n)
	}
	b := openDB(t, c.Addrs, "twice", limits.Default())
	res, err := b.Insert(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res); got[store.Stored] != 200 {
		t.Fatalf("node b: outcomes %v, want 200 stored (claimed by a, but not written)", got)
	}
	land()
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM twice.e_p__c").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows < 400 {
		t.Fatalf("the table has %d rows: the test did not write the events again (want at least 400 before a merge)", rows)
	}
	if n := count(t, a); n != 200 {
		t.Fatalf("count %d, want 200", n)
	}
	sum, err := a.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Sum, Target: []string{"n"}, GroupBy: [][]string{{"g"}}})
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, r := range sum.Rows {
		total += r.Value.(float64)
	}
	if total != 199*200/2 {
		t.Fatalf("sum of n over the groups %v, want %d", total, 199*200/2)
	}
	ex, err := a.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Extraction})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Events) != 200 {
		t.Fatalf("extraction of %d events, want 200", len(ex.Events))
	}
	// b, which found a's claims, said when its writes were done: the
	// table can be settled at once.
	settled, err := clickhouse.Settle(ctx, b, time.Now(), 24*time.Hour)
	if err != nil || len(settled) != 1 || settled[0] != "e_p__c" {
		t.Fatalf("settling: %v %v, want e_p__c settled", settled, err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM twice.e_p__c").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 200 {
		t.Fatalf("the table has %d rows after settling, want 200", rows)
	}
	if n := count(t, a); n != 200 {
		t.Fatalf("count after settling %d, want 200", n)
	}
}

// An event that would take its collection over MaxPropertiesPerCollection
// is refused, again when processed again; the rest of the Insert is stored.
func TestPropertyLimit(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	l := limits.Default()
	l.MaxPropertiesPerCollection = 3
	st := openDB(t, c.Addrs, "wide", l)
	ctx := context.Background()
	evs := []store.Event{
		testEvent("a", 0, `,"x":1,"y":"s"`),
		testEvent("b", 1, `,"z":1,"w":2`), // 4 columns: refused
		testEvent("c", 2, `,"x":2,"z":true`),
		testEvent("d", 3, `,"x":3`),
	}
	for round := range 2 {
		res, err := st.Insert(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Status{store.Stored, store.Refused, store.Stored, store.Stored}
		if round == 1 {
			want = []store.Status{store.Existing, store.Refused, store.Existing, store.Existing}
		}
		for i, o := range res.Outcomes {
			if o.Status != want[i] {
				t.Fatalf("round %d: event %d: status %d, want %d (%s)", round, i, o.Status, want[i], o.Message)
			}
		}
		if o := res.Outcomes[1]; o.Name != clickhouse.ErrPropertyLimit || o.Message == "" {
			t.Fatalf("round %d: the refusal is %q %q, want %s and a message", round, o.Name, o.Message, clickhouse.ErrPropertyLimit)
		}
	}
	if n := count(t, st); n != 3 {
		t.Fatalf("count %d, want 3", n)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // fmt of Addrs, Database, Username, TLS != nil; or "error"
	}{
		{"clickhouse://127.0.0.1:9000/sluice", "[127.0.0.1:9000] sluice  false"},
		{"clickhouse://u:pw@h1:9000,h2:9001/db?secure=true", "[h1:9000 h2:9001] db u true"},
		{"clickhouse://h:9000/db?dial_timeout=3s", "[h:9000] db  false"},
		{"clickhouse://h:9000/db?cluster=sluice", "[h:9000] db  false"},
		{"clickhouse://h:9000/", "error"},
		{"clickhouse://h/db", "error"},
		{"clickhouse://h:9000/my-db", "error"},
		{"clickhouse://h:9000/db?compress=lz4", "error"},
		{"clickhouse://h:9000/db?cluster=my-cluster", "error"},
		{"clickhouse://h:9000/db?skip_verify=true", "error"},
		{"duckdb://h:9000/db", "error"},
	} {
		c, err := clickhouse.ParseURL(tc.url)
		got := "error"
		if err == nil {
			got = fmt.Sprintf("%v %s %s %v", c.Addrs, c.Database, c.Username, c.TLS != nil)
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %s (err %v), want %s", tc.url, got, err, tc.want)
		}
	}
}

// 18.16's match() pre-checks a literal of the pattern case sensitively,
// even under (?i); the engine's patterns must not let it.
func TestRegexCaseInsensitive(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	st := openDB(t, c.Addrs, "regex", limits.Default())
	ctx := context.Background()
	evs := []store.Event{testEvent("a", 0, `,"city":"Paris"`), testEvent("b", 1, `,"city":"paris"`), testEvent("c", 2, `,"city":"Rome"`)}
	if _, err := st.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for pattern, want := range map[string]int64{"(?i)paris": 2, "paris": 1, "^(?i:PARIS)$": 2, "o|P": 2, "^$": 0} {
		res, err := st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Count,
			Filters: []store.Filter{{Path: []string{"city"}, Operator: "regex", Value: pattern}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Rows[0].Value.(int64); got != want {
			t.Errorf("regex %q: count %d, want %d", pattern, got, want)
		}
	}
}

// On two shards, events are spread over both shards' local tables, every
// version of one keen.id on the same shard, and any server answers for
// all of them.
func TestTwoShards(t *testing.T) {
	c := clickhousetest.StartForTest(t, 2)
	ctx := context.Background()
	open := func(addrs ...string) *clickhouse.Store {
		st, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: addrs, Database: "sharded", Cluster: clickhousetest.ClusterName}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open(c.Addrs...)
	var evs []store.Event
	for i := range 200 {
		evs = append(evs, testEvent(fmt.Sprintf("id%03d", i), i, fmt.Sprintf(`,"n":%d`, i)))
	}
	if _, err := st.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// Written again by another writer while the first write is delayed.
	var lands []func()
	for _, a := range c.Addrs {
		conn, err := ch.Open(&ch.Options{Addr: []string{a}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		lands = append(lands, delayWrite(t, conn, "sharded.e_p__c_l"))
	}
	if _, err := open(c.Addrs...).Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, land := range lands {
		land()
	}
	var total uint64
	for _, a := range c.Addrs {
		conn, err := ch.Open(&ch.Options{Addr: []string{a}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var rows, ids uint64
		if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(_id) FROM sharded.e_p__c_l").Scan(&rows, &ids); err != nil {
			t.Fatal(err)
		}
		if ids < 50 || rows != 2*ids {
			t.Fatalf("shard %s holds %d rows of %d keen.ids; want a fair share of the 200, each twice", a, rows, ids)
		}
		total += ids
	}
	if total != 200 {
		t.Fatalf("the shards hold %d keen.ids, want 200", total)
	}
	if _, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: c.Addrs, Database: "sharded", Cluster: "nope"}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("opened a store on a cluster the servers do not know")
	}
	// Each server alone answers for both shards.
	for _, a := range c.Addrs {
		if n := count(t, open(a)); n != 200 {
			t.Fatalf("count through %s: %d, want 200", a, n)
		}
	}
}

// An Insert as large as the pipeline's largest poll (40,000 events), with
// uniqueness tokens, goes through: the keen.id and token lookups stay
// under the server's max_query_size. Sent again, every event is Existing.
func TestLargeInsert(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	st := openDB(t, c.Addrs, "large", limits.Default())
	ctx := context.Background()
	evs := make([]store.Event, 40000)
	for i := range evs {
		evs[i] = testEvent(fmt.Sprintf("event-id-%012d", i), i, `,"n":1`)
		evs[i].UniquenessToken = fmt.Sprintf("token-%020d", i)
	}
	for round, want := range []store.Status{store.Stored, store.Existing} {
		start := time.Now()
		res, err := st.Insert(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res); got[want] != len(evs) {
			t.Fatalf("round %d: outcomes %v, want all %d", round, got, want)
		}
		t.Logf("round %d: Insert of %d events in %s", round, len(evs), time.Since(start).Round(time.Millisecond))
	}
	if n := count(t, st); n != int64(len(evs)) {
		t.Fatalf("count %d, want %d", n, len(evs))
	}
}

// After a property is deleted, the events' older versions (which still
// have it) must not show through a filter on it: FINAL picks each
// event's newest version before the filter is applied.
func TestDeletedPropertyDoesNotShowThrough(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	st := openDB(t, c.Addrs, "showthrough", limits.Default())
	ctx := context.Background()
	evs := []store.Event{testEvent("a", 0, `,"x":1,"y":"k"`), testEvent("b", 1, `,"x":2,"y":"k"`), testEvent("c", 2, `,"y":"k"`)}
	if _, err := st.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "c", Property: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.Filter{
		{Path: []string{"x"}, Operator: "exists", Value: true},
		{Path: []string{"x"}, Operator: "eq", Value: json.Number("1")},
		{Path: []string{"x"}, Operator: "gt", Value: json.Number("0")},
	} {
		res, err := st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Count, Filters: []store.Filter{f}})
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Rows[0].Value.(int64); n != 0 {
			t.Errorf("count where x %s %v after deleting x: %d, want 0", f.Operator, f.Value, n)
		}
	}
	res, err := st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Count, Filters: []store.Filter{{Path: []string{"x"}, Operator: "exists", Value: false}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Rows[0].Value.(int64); n != 3 {
		t.Errorf("count where x does not exist after deleting x: %d, want 3", n)
	}
}

// When an event's copies differ (written again after a crash, its
// keen.created_at or an add-on computed again), a query sees the newest
// copy only: filters apply after FINAL picks it (the engine never writes
// PREWHERE, which 18.16 would apply before).
func TestNewestCopyIsFiltered(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	st := openDB(t, c.Addrs, "copies", limits.Default())
	ctx := context.Background()
	if _, err := st.Insert(ctx, []store.Event{testEvent("a", 0, `,"v":"old"`)}); err != nil {
		t.Fatal(err)
	}
	conn, err := ch.Open(&ch.Options{Addr: c.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	land := delayWrite(t, conn, "copies.e_p__c")
	if _, err := openDB(t, c.Addrs, "copies", limits.Default()).Insert(ctx, []store.Event{testEvent("a", 0, `,"v":"new"`)}); err != nil {
		t.Fatal(err)
	}
	land()
	for v, want := range map[string]int64{"old": 0, "new": 1} {
		res, err := st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Count,
			Filters: []store.Filter{{Path: []string{"v"}, Operator: "eq", Value: v}}})
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Rows[0].Value.(int64); n != want {
			t.Errorf("count where v = %q: %d, want %d", v, n, want)
		}
	}
}

// With a shard down, queries and inserts fail: never a count of the
// surviving shard alone.
func TestShardDownIsAnError(t *testing.T) {
	c := clickhousetest.StartForTest(t, 2)
	ctx := context.Background()
	st, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: c.Addrs[:1], Database: "down", Cluster: clickhousetest.ClusterName}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []store.Event
	for i := range 100 {
		evs = append(evs, testEvent(fmt.Sprintf("id%03d", i), i, `,"n":1`))
	}
	if _, err := st.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st); n != 100 {
		t.Fatalf("count %d, want 100", n)
	}
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.Query{
		{ProjectID: "p", Collection: "c", Analysis: store.Count},
		{ProjectID: "p", Collection: "c", Analysis: store.Sum, Target: []string{"n"}},
		{ProjectID: "p", Collection: "c", Analysis: store.Extraction},
	} {
		res, err := st.Run(ctx, q)
		if err == nil {
			t.Fatalf("%s with a shard down: %+v, want an error", q.Analysis, res)
		}
	}
	more := []store.Event{}
	for i := range 20 {
		more = append(more, testEvent(fmt.Sprintf("new%03d", i), i, `,"n":1`))
	}
	if res, err := st.Insert(ctx, more); err == nil {
		t.Fatalf("Insert with a shard down: %v, want an error", res.Outcomes)
	}
}

// Queries of this process that run while a Delete drops the columns they
// read wait for it instead of failing.
func TestQueriesDuringDeletes(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	st := openDB(t, c.Addrs, "during", limits.Default())
	ctx := context.Background()
	const props = 20
	var evs []store.Event
	for i := range 50 {
		var b strings.Builder
		for p := range props {
			fmt.Fprintf(&b, `,"x%d":%d`, p, i)
		}
		evs = append(evs, testEvent(fmt.Sprintf("id%03d", i), i, b.String()))
	}
	if _, err := st.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				p := (i + w) % props
				_, err := st.Run(ctx, store.Query{ProjectID: "p", Collection: "c", Analysis: store.Sum, Target: []string{fmt.Sprintf("x%d", p)},
					Filters: []store.Filter{{Path: []string{fmt.Sprintf("x%d", (p+1)%props)}, Operator: "gte", Value: json.Number("0")}}})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	for p := range props {
		if _, err := st.Delete(ctx, store.Deletion{ProjectID: "p", Collection: "c", Property: []string{fmt.Sprintf("x%d", p)}}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("a query during the deletes failed: %v", err)
	default:
	}
}

// keen.ids holding the bytes the lookups split their sets at are found
// as any other: stored once, Existing when processed again.
func TestIDsWithSeparators(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	st := openDB(t, c.Addrs, "seps", limits.Default())
	ctx := context.Background()
	var evs []store.Event
	for i, id := range []string{"a,b", "c;d", "e|f", ",;|", "it's", `x\y`, "plain"} {
		evs = append(evs, testEvent(id, i, ""))
	}
	for round, want := range []store.Status{store.Stored, store.Existing} {
		res, err := st.Insert(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res); got[want] != len(evs) {
			t.Fatalf("round %d: outcomes %v, want all %d of status %d", round, got, len(evs), want)
		}
	}
	if n := count(t, st); n != int64(len(evs)) {
		t.Fatalf("count %d, want %d", n, len(evs))
	}
}

// A database written by the layout before claims is refused, not read as
// if none of its events had been claimed.
func TestEarlierLayoutRefused(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	conn, err := ch.Open(&ch.Options{Addr: c.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	for db, table := range map[string]string{
		"old":    "CREATE TABLE old.sluice_ids (project String, id String, tbl String, _v UInt64) ENGINE = ReplacingMergeTree(_v) ORDER BY (project, id)",
		"oldpos": "CREATE TABLE oldpos.sluice_claims (project String, id String, tbl String, _v UInt64) ENGINE = MergeTree ORDER BY (project, id)",
	} {
		for _, q := range []string{"CREATE DATABASE " + db, table} {
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		_, err = clickhouse.Open(ctx, clickhouse.Config{Addrs: c.Addrs, Database: db}, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "earlier sluice") {
			t.Fatalf("opening database %s of an earlier layout: %v, want a refusal", db, err)
		}
	}
}
