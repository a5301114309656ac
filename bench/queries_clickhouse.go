package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluice-io/sluice/internal/store"
	sluicech "github.com/sluice-io/sluice/internal/store/clickhouse"
	sluiceduck "github.com/sluice-io/sluice/internal/store/duckdb"
)

// The query benchmark on ClickHouse (issue 18). With --store
// clickhouse://…, the events are loaded into that database with the
// ClickHouse engine's own Insert, sluice answers the queries from it
// (serve --store), and the direct baseline asks the same questions in plain
// SQL of a plain MergeTree table holding the same data, built by SQL on
// the URL's first server (on one server even when the store is sharded).
// Without --store, everything is as before: DuckDB.

// chDirectSQL is each case's baseline question in ClickHouse SQL (18.16),
// over the table chDirectTable builds; queryCases' SQL is DuckDB's.
var chDirectSQL = map[string]string{
	"count, one filter":                        `SELECT count() FROM ev WHERE country = 'c042'`,
	"count, group_by a string of 1,000 values": `SELECT country, count() FROM ev GROUP BY country`,
	"count, daily interval over 30 days": fmt.Sprintf(`SELECT intDiv(ts_ms, 86400000) AS day, count() FROM ev WHERE ts_ms >= %d AND ts_ms < %d GROUP BY day`,
		qbStart.UnixMilli(), qbStart.AddDate(0, 0, qbDays).UnixMilli()),
	"funnel, 3 steps over 100,000 actors": `SELECT
		(SELECT uniqExact(user) FROM ev WHERE step = 'view'),
		(SELECT uniqExact(user) FROM ev WHERE step = 'cart' AND user IN (SELECT user FROM ev WHERE step = 'view')),
		(SELECT uniqExact(user) FROM ev WHERE step = 'buy' AND user IN
			(SELECT user FROM ev WHERE step = 'cart' AND user IN (SELECT user FROM ev WHERE step = 'view')))`,
	"count_unique over 1,000,000 values": `SELECT uniqExact(session) FROM ev`,
}

// chDirectTable builds the baseline table: the same columns as
// directQueries' DuckDB table (the timestamp in Unix milliseconds, as the
// engine keeps it), derived from the row number the same way.
func chDirectTable(events int) string {
	// 'x' || the last k digits of 10^k + v: zero-padded without printf,
	// which 18.16 lacks.
	pad := func(prefix, v string, k int) string {
		return fmt.Sprintf(`concat('%s', substring(toString(%s + %s), 2))`, prefix, "1"+fmt.Sprintf("%0*d", k, 0), v)
	}
	return fmt.Sprintf(`INSERT INTO ev SELECT
		%d + intDiv(number * %d, %d) AS ts_ms,
		%s AS country, %s AS user, %s AS session,
		multiIf(intDiv(number, 7) %% 10 < 6, 'view', intDiv(number, 7) %% 10 < 9, 'cart', 'buy') AS step,
		(number %% 1000) / 10 AS price
		FROM system.numbers LIMIT %d`,
		qbStart.UnixMilli(), int64(qbDays*24*time.Hour/time.Millisecond), events,
		pad("c", "(number * 7919) % 1000", 3), pad("u", "(number * 104729) % 100000", 5), pad("s", "(number * 15485863) % 1000000", 7),
		events)
}

// storeArgs are the serve flags that select the benchmark's store.
func (c queriesConfig) storeArgs() []string {
	if c.store == "" {
		return nil
	}
	return []string{"--store", c.store}
}

// openQueryStore opens the store the events are loaded into.
func openQueryStore(ctx context.Context, c queriesConfig, dataDir string) (store.Store, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if c.store == "" {
		return sluiceduck.Open(filepath.Join(dataDir, "store"), log)
	}
	cfg, err := sluicech.ParseURL(c.store)
	if err != nil {
		return nil, err
	}
	return sluicech.Open(ctx, cfg, log)
}

// chConn connects to the first server of the --store URL, in database db
// ("" for the server's default).
func (c queriesConfig) chConn(db string) (ch.Conn, sluicech.Config, error) {
	cfg, err := sluicech.ParseURL(c.store)
	if err != nil {
		return nil, cfg, err
	}
	conn, err := chOpen(cfg, cfg.Addrs[0], db)
	return conn, cfg, err
}

// storeBytes is what the stored events take on disk: the data dir's store
// (DuckDB), or the database's active parts on the first server (ClickHouse;
// on a cluster, that server's shard only).
func storeBytes(ctx context.Context, c queriesConfig, dataDir string) (int64, error) {
	if c.store == "" {
		return dirSize(filepath.Join(dataDir, "store")), nil
	}
	conn, cfg, err := c.chConn("")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT sum(bytes) FROM system.parts WHERE active AND database = ?", cfg.Database).Scan(&n); err != nil {
		return 0, fmt.Errorf("measuring the store's size: %w", err)
	}
	return int64(n), nil
}

// directClickHouse builds the baseline table in database <db>_direct on
// the first server and times chDirectSQL there.
func directClickHouse(ctx context.Context, c queriesConfig, cases []queryCase, timings []queryTiming, rep *queriesReport) error {
	cfg, err := sluicech.ParseURL(c.store)
	if err != nil {
		return err
	}
	db := cfg.Database + "_direct"
	setup, _, err := c.chConn("")
	if err != nil {
		return err
	}
	err = setup.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db)
	setup.Close()
	if err != nil {
		return fmt.Errorf("baseline database %s: %w", db, err)
	}
	conn, _, err := c.chConn(db)
	if err != nil {
		return err
	}
	defer conn.Close()
	t0 := time.Now()
	for _, q := range []string{
		"DROP TABLE IF EXISTS ev",
		"CREATE TABLE ev (ts_ms Int64, country String, user String, session String, step String, price Float64) ENGINE = MergeTree ORDER BY ts_ms",
		// INSERT … SELECT runs on the server (not the VALUES form that
		// hangs with this driver).
		chDirectTable(c.events),
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("building the baseline table: %.80s…: %w", q, err)
		}
	}
	rep.DirectSeconds = time.Since(t0).Seconds()
	for i, qc := range cases {
		q, ok := chDirectSQL[qc.Name]
		if !ok {
			return fmt.Errorf("baseline %s: no ClickHouse SQL for it (chDirectSQL)", qc.Name)
		}
		var ms []float64
		for r := 0; r < c.warmup+c.runs; r++ {
			t := time.Now()
			rows, err := conn.Query(ctx, q)
			if err != nil {
				return fmt.Errorf("baseline %s: %w", qc.Name, err)
			}
			n, first := 0, ""
			cols := rows.ColumnTypes()
			for rows.Next() {
				ptrs := make([]any, len(cols))
				for j, ct := range cols {
					ptrs[j] = reflect.New(ct.ScanType()).Interface()
				}
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return fmt.Errorf("baseline %s: %w", qc.Name, err)
				}
				if n == 0 {
					for _, p := range ptrs {
						first += fmt.Sprint(reflect.ValueOf(p).Elem().Interface()) + " "
					}
				}
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("baseline %s: %w", qc.Name, err)
			}
			if r >= c.warmup {
				ms = append(ms, float64(time.Since(t).Microseconds())/1000)
			}
			timings[i].Direct = fmt.Sprintf("%d rows, first %s", n, first)
		}
		sortFloats(ms)
		timings[i].DirectP50, timings[i].DirectP99 = quantile(ms, 0.5), quantile(ms, 0.99)
		fmt.Fprintf(os.Stderr, "direct (ClickHouse): %s: p50 %.1f ms, p99 %.1f ms (%s)\n", qc.Name, timings[i].DirectP50, timings[i].DirectP99, timings[i].Direct)
	}
	return nil
}

// engineNote says in the report which store was measured.
func (c queriesConfig) engineNote() string {
	if c.store == "" {
		return "Store: DuckDB (the embedded default); the direct baseline is plain DuckDB.\n\n"
	}
	cfg, err := sluicech.ParseURL(c.store)
	if err != nil {
		return ""
	}
	shards := "one server"
	if cfg.Cluster != "" {
		shards = "cluster " + cfg.Cluster
	}
	return fmt.Sprintf("Store: ClickHouse (`--store`, %s, database %s); the direct baseline is a plain MergeTree table on %s "+
		"(`bench/queries_clickhouse.go`), not sluice's ReplacingMergeTree with Nullable columns per property (read with FINAL only when marked, docs/clickhouse.md).\n\n", shards, cfg.Database, cfg.Addrs[0])
}

// engineName is the store the report measured.
func (c queriesConfig) engineName() string {
	if c.store == "" {
		return "DuckDB"
	}
	return "ClickHouse"
}

// baselineTable says what the direct baseline asks.
func (c queriesConfig) baselineTable() string {
	if c.store == "" {
		return "a plain in-memory DuckDB table"
	}
	return "a plain MergeTree table on the ClickHouse server"
}
