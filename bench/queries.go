package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/sluice-io/sluice/internal/store"
)

// The query benchmark (issue 16's targets): N events of one collection,
// written straight into a sluice data dir's store, then each query asked
// through sluice's HTTP query API, and the same question asked in plain SQL
// of a plain DuckDB table holding the same data (the direct baseline: what
// a hand-written query on DuckDB costs), in the same run.
//
// The events are a function of their number i, so that Go (sluice's store)
// and SQL (the baseline) build the same data:
//
//	keen.timestamp  start + i × 30 days / N (30 days, evenly)
//	country         "c%03d" of (i × 7919) mod 1000   1,000 values
//	user            "u%05d" of (i × 104729) mod 100000   100,000 actors
//	session         "s%07d" of (i × 15485863) mod 1000000   1,000,000 values
//	step            view ((i div 7) mod 10 < 6), cart (< 9), buy: each
//	                user's events spread over the steps
//	price           (i mod 1000) / 10
type queriesConfig struct {
	bin, workDir string
	events       int
	runs, warmup int
	reportFlags
	reuse          string
	store          string // serve --store (queries_clickhouse.go); "": DuckDB
	loadBatch      int
	queriesTimeout time.Duration
}

// queryCase is one benchmarked question: Keen's parameters for sluice, the
// SQL for the baseline, and the goal.
type queryCase struct {
	Name     string         `json:"name"`
	Analysis string         `json:"analysis"`
	Params   map[string]any `json:"params"`
	SQL      string         `json:"sql"`
	GoalMs   float64        `json:"goal_ms"`
}

type queryTiming struct {
	Name      string  `json:"name"`
	GoalMs    float64 `json:"goal_ms"`
	SluiceP50 float64 `json:"sluice_p50_ms"`
	SluiceP99 float64 `json:"sluice_p99_ms"`
	DirectP50 float64 `json:"direct_p50_ms"`
	DirectP99 float64 `json:"direct_p99_ms"`
	Result    string  `json:"result"`
	Direct    string  `json:"direct_result"`
}

type queriesReport struct {
	Store         string        `json:"store"` // DuckDB or ClickHouse
	Machine       machine       `json:"machine"`
	Started       time.Time     `json:"started"`
	Finished      time.Time     `json:"finished"`
	Events        int           `json:"events"`
	LoadSeconds   float64       `json:"load_seconds"`
	StoreBytes    int64         `json:"store_bytes"`
	SluiceRSSMiB  float64       `json:"sluice_peak_rss_mib"`
	DirectRSSMiB  float64       `json:"direct_peak_rss_mib"`
	DirectSeconds float64       `json:"direct_load_seconds"`
	Timings       []queryTiming `json:"timings"`
	LoadEnd       string        `json:"load_end"`
}

const (
	qbCollection = "bench"
	qbDays       = 30
)

var qbStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func queryCases() []queryCase {
	all := map[string]any{"start": qbStart.Format(time.RFC3339), "end": qbStart.AddDate(0, 0, qbDays).Format(time.RFC3339)}
	step := func(s string) map[string]any {
		return map[string]any{"event_collection": qbCollection, "actor_property": "user",
			"filters": []any{map[string]any{"property_name": "step", "operator": "eq", "property_value": s}}}
	}
	return []queryCase{
		{Name: "count, one filter", Analysis: "count", GoalMs: 50,
			Params: map[string]any{"event_collection": qbCollection, "filters": []any{map[string]any{"property_name": "country", "operator": "eq", "property_value": "c042"}}},
			SQL:    `SELECT count(*) FROM ev WHERE country = 'c042'`},
		{Name: "count, group_by a string of 1,000 values", Analysis: "count", GoalMs: 300,
			Params: map[string]any{"event_collection": qbCollection, "group_by": "country"},
			SQL:    `SELECT country, count(*) FROM ev GROUP BY country`},
		{Name: "count, daily interval over 30 days", Analysis: "count", GoalMs: 300,
			Params: map[string]any{"event_collection": qbCollection, "interval": "daily", "timeframe": all},
			SQL:    fmt.Sprintf(`SELECT date_trunc('day', ts), count(*) FROM ev WHERE ts >= TIMESTAMP '%s' AND ts < TIMESTAMP '%s' GROUP BY 1`, qbStart.Format("2006-01-02"), qbStart.AddDate(0, 0, qbDays).Format("2006-01-02"))},
		{Name: "funnel, 3 steps over 100,000 actors", Analysis: "funnel", GoalMs: 2000,
			Params: map[string]any{"steps": []any{step("view"), step("cart"), step("buy")}},
			SQL: `WITH s1 AS (SELECT DISTINCT "user" u FROM ev WHERE step = 'view'),
			s2 AS (SELECT DISTINCT "user" u FROM ev WHERE step = 'cart' AND "user" IN (SELECT u FROM s1)),
			s3 AS (SELECT DISTINCT "user" u FROM ev WHERE step = 'buy' AND "user" IN (SELECT u FROM s2))
			SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3)`},
		{Name: "count_unique over 1,000,000 values", Analysis: "count_unique", GoalMs: 500,
			Params: map[string]any{"event_collection": qbCollection, "target_property": "session"},
			SQL:    `SELECT count(DISTINCT session) FROM ev`},
	}
}

func queriesBench(args []string) error {
	var c queriesConfig
	fs := flag.NewFlagSet("sluicebench queries", flag.ContinueOnError)
	fs.StringVar(&c.bin, "sluice-bin", "", "the sluice binary")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where the data dirs and logs go")
	fs.IntVar(&c.events, "events", 10_000_000, "events in the collection (at least 1,000,000: count_unique counts 1,000,000 values)")
	fs.IntVar(&c.runs, "runs", 20, "timed runs of each query")
	fs.IntVar(&c.warmup, "warmup", 2, "untimed runs of each query first")
	fs.IntVar(&c.loadBatch, "load-batch", 50_000, "events per store Insert while loading")
	fs.StringVar(&c.reuse, "reuse", "", "a data dir this benchmark loaded before (same --events), to skip the load")
	fs.StringVar(&c.store, "store", "", "clickhouse://… to measure the ClickHouse store (queries_clickhouse.go); empty: DuckDB")
	fs.DurationVar(&c.queriesTimeout, "query-timeout", 5*time.Minute, "give up one query after this long")
	c.register(fs, "queries.md", "", "the figures as JSON (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.stamp()
	if c.bin == "" {
		return fmt.Errorf("--sluice-bin is required")
	}
	if c.events < 1_000_000 {
		return fmt.Errorf("--events %d: at least 1,000,000", c.events)
	}
	ctx := context.Background()
	rep := &queriesReport{Store: c.engineName(), Machine: describeMachine(), Started: time.Now(), Events: c.events}
	cases := queryCases()

	dataDir := c.reuse
	var p project
	if dataDir == "" {
		dataDir = filepath.Join(c.workDir, "queries-data")
		var err error
		if p, err = loadQueryData(ctx, c, dataDir, rep); err != nil {
			return err
		}
	} else {
		raw, err := os.ReadFile(filepath.Join(dataDir, "bench-project.json"))
		if err != nil {
			return fmt.Errorf("--reuse %s: %w", dataDir, err)
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("--reuse %s: %w", dataDir, err)
		}
	}
	var err error
	if rep.StoreBytes, err = storeBytes(ctx, c, dataDir); err != nil {
		return err
	}

	sl, err := startSluice(ctx, c.bin, dataDir, "", false, nil, filepath.Join(c.workDir, "queries-sluice"), c.storeArgs()...)
	if err != nil {
		return err
	}
	peak := sampleRSS(sl.pid)
	timings := make([]queryTiming, len(cases))
	for i, qc := range cases {
		timings[i] = queryTiming{Name: qc.Name, GoalMs: qc.GoalMs}
		var ms []float64
		for r := 0; r < c.warmup+c.runs; r++ {
			qctx, cancel := context.WithTimeout(ctx, c.queriesTimeout)
			res, rtt, err := queryAPI(qctx, sl.http, p.ID, p.Read, qc.Analysis, qc.Params)
			cancel()
			if err != nil {
				sl.stop()
				return fmt.Errorf("%s: %w", qc.Name, err)
			}
			timings[i].Result = summarize(res)
			if r >= c.warmup {
				ms = append(ms, float64(rtt.Microseconds())/1000)
			}
		}
		sortFloats(ms)
		timings[i].SluiceP50, timings[i].SluiceP99 = quantile(ms, 0.5), quantile(ms, 0.99)
		fmt.Fprintf(os.Stderr, "sluice: %s: p50 %.1f ms, p99 %.1f ms (%s)\n", qc.Name, timings[i].SluiceP50, timings[i].SluiceP99, timings[i].Result)
	}
	rep.SluiceRSSMiB = float64(peak()) / 1024
	if err := sl.stop(); err != nil {
		return err
	}

	direct := directQueries
	if c.store != "" {
		direct = directClickHouse
	}
	if err := direct(ctx, c, cases, timings, rep); err != nil {
		return err
	}
	rep.Timings = timings
	rep.Finished = time.Now()
	rep.LoadEnd = loadAvg()
	return c.reportFlags.write(rep, rep.markdown(c))
}

// loadQueryData creates a project in a fresh sluice (embedded log), stops
// it, and writes the events into its store with the store's own Insert.
func loadQueryData(ctx context.Context, c queriesConfig, dataDir string, rep *queriesReport) (project, error) {
	if err := os.RemoveAll(dataDir); err != nil {
		return project{}, err
	}
	sl, err := startSluice(ctx, c.bin, dataDir, "", false, nil, filepath.Join(c.workDir, "queries-setup"), c.storeArgs()...)
	if err != nil {
		return project{}, err
	}
	p, err := createProject(ctx, sl.http, dataDir, "queries")
	if stopErr := sl.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return project{}, err
	}
	st, err := openQueryStore(ctx, c, dataDir)
	if err != nil {
		return project{}, err
	}
	t0 := time.Now()
	evs := make([]store.Event, 0, c.loadBatch)
	for i := 0; i < c.events; i++ {
		evs = append(evs, queryEvent(p.ID, i, c.events))
		if len(evs) == c.loadBatch || i == c.events-1 {
			res, err := st.Insert(ctx, evs)
			if err != nil {
				st.Close()
				return project{}, fmt.Errorf("loading events %d…%d: %w", i+1-len(evs), i, err)
			}
			if n := res.Count(store.Stored); n != len(evs) {
				st.Close()
				return project{}, fmt.Errorf("loading events %d…%d: %d stored of %d", i+1-len(evs), i, n, len(evs))
			}
			evs = evs[:0]
		}
		if (i+1)%1_000_000 == 0 {
			fmt.Fprintf(os.Stderr, "loaded %d events in %.0f s\n", i+1, time.Since(t0).Seconds())
		}
	}
	if err := st.Close(); err != nil {
		return project{}, err
	}
	rep.LoadSeconds = time.Since(t0).Seconds()
	b, _ := json.Marshal(p)
	return p, os.WriteFile(filepath.Join(dataDir, "bench-project.json"), b, 0o644)
}

func queryTimestamp(i, n int) time.Time {
	return qbStart.Add(time.Duration(int64(i)*int64(qbDays*24*time.Hour/time.Millisecond)/int64(n)) * time.Millisecond)
}

func queryStep(i int) string {
	switch m := (i / 7) % 10; {
	case m < 6:
		return "view"
	case m < 9:
		return "cart"
	}
	return "buy"
}

// queryEvent is event i of n, as the pipeline would store it.
func queryEvent(pid string, i, n int) store.Event {
	ts := queryTimestamp(i, n)
	id := fmt.Sprintf("%024x", i)
	stamp := ts.Format("2006-01-02T15:04:05.000Z")
	doc := fmt.Sprintf(`{"country":"c%03d","user":"u%05d","session":"s%07d","step":%q,"price":%g,"keen":{"timestamp":%q,"created_at":%q,"id":%q}}`,
		(i*7919)%1000, (i*104729)%100000, (i*15485863)%1000000, queryStep(i), float64(i%1000)/10, stamp, stamp, id)
	return store.Event{ProjectID: pid, Collection: qbCollection, ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(doc), ValidUTF8: true,
		Source: store.Source{Topic: "bench.raw", Partition: 0, Offset: int64(i)}}
}

// directQueries builds the baseline table in a plain DuckDB database (in
// memory, spilling to the work dir) with SQL and times cases' SQL on it.
func directQueries(ctx context.Context, c queriesConfig, cases []queryCase, timings []queryTiming, rep *queriesReport) error {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	peak := sampleRSS(fmt.Sprint(os.Getpid()))
	t0 := time.Now()
	build := fmt.Sprintf(`CREATE TABLE ev AS SELECT
		TIMESTAMP '%s' + to_milliseconds((i * %d) // %d) AS ts,
		printf('c%%03d', (i * 7919) %% 1000) AS country,
		printf('u%%05d', (i * 104729) %% 100000) AS "user",
		printf('s%%07d', (i * 15485863) %% 1000000) AS session,
		CASE WHEN (i // 7) %% 10 < 6 THEN 'view' WHEN (i // 7) %% 10 < 9 THEN 'cart' ELSE 'buy' END AS step,
		(i %% 1000) / 10.0 AS price
		FROM range(%d) t(i)`, qbStart.Format("2006-01-02 15:04:05"), int64(qbDays*24*time.Hour/time.Millisecond), c.events, c.events)
	if _, err := db.ExecContext(ctx, "SET temp_directory = '"+strings.ReplaceAll(filepath.Join(c.workDir, "direct.tmp"), "'", "''")+"'"); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, build); err != nil {
		return fmt.Errorf("building the baseline table: %w", err)
	}
	rep.DirectSeconds = time.Since(t0).Seconds()
	for i, qc := range cases {
		var ms []float64
		for r := 0; r < c.warmup+c.runs; r++ {
			t := time.Now()
			rows, err := db.QueryContext(ctx, qc.SQL)
			if err != nil {
				return fmt.Errorf("baseline %s: %w", qc.Name, err)
			}
			n, first := 0, ""
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				if n == 0 {
					first = fmt.Sprint(vals...)
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
		fmt.Fprintf(os.Stderr, "direct: %s: p50 %.1f ms, p99 %.1f ms (%s)\n", qc.Name, timings[i].DirectP50, timings[i].DirectP99, timings[i].Direct)
	}
	rep.DirectRSSMiB = float64(peak()) / 1024
	return nil
}

// summarize describes a query result briefly: a scalar as is, an array by
// its length and first element.
func summarize(raw json.RawMessage) string {
	if len(raw) <= 80 {
		return string(raw)
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil {
		if len(arr) == 0 {
			return "0 rows"
		}
		first := string(arr[0])
		if len(first) > 80 {
			first = first[:80] + "…"
		}
		return fmt.Sprintf("%d rows, first %s", len(arr), first)
	}
	s := string(raw)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func (r *queriesReport) markdown(c queriesConfig) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "## Queries on %s: Keen's analyses over %d events\n\n", c.engineName(), r.Events)
	fmt.Fprintf(&b, "Written by `bench/run.sh --benches queries` (`bench/queries.go`). `%s` at commit %s, %s → %s; "+
		"%d cores (%s), %.0f GiB, Linux %s; load average %s at the start, %s at the end.\n\n", c.command, c.shortCommit()+c.modifiedNote(),
		r.Started.UTC().Format("2006-01-02 15:04"), r.Finished.UTC().Format("15:04 UTC"), m.Cores, m.CPUModel, m.MemGiB, m.Kernel, m.LoadAvg, r.LoadEnd)
	fmt.Fprintf(&b, "%d events of one collection (1,000 countries, 100,000 users, 1,000,000 sessions, 30 days; `bench/queries.go` says how each is derived), "+
		"written into a sluice data dir's store with the store's own Insert (%.0f s; store %.1f GiB), then each query asked %d times (after %d untimed) "+
		"through sluice's HTTP query API (POST, the read key; the round trip), and the same question in plain SQL of %s "+
		"holding the same data (built by SQL in %.0f s): the direct baseline, what the question costs on %s without sluice.\n\n",
		r.Events, r.LoadSeconds, float64(r.StoreBytes)/(1<<30), c.runs, c.warmup, c.baselineTable(), r.DirectSeconds, c.engineName())
	b.WriteString(c.engineNote())
	b.WriteString("| query | goal | sluice p50 / p99 | direct p50 / p99 | sluice's answer |\n|---|---|---|---|---|\n")
	for _, t := range r.Timings {
		verdict := "met"
		if t.SluiceP99 > t.GoalMs {
			verdict = "**not met**"
		}
		fmt.Fprintf(&b, "| %s | ≤ %.0f ms (%s) | %.1f / %.1f ms | %.1f / %.1f ms | %s |\n", t.Name, t.GoalMs, verdict, t.SluiceP50, t.SluiceP99, t.DirectP50, t.DirectP99, strings.ReplaceAll(t.Result, "|", "\\|"))
	}
	if c.store == "" {
		fmt.Fprintf(&b, "\nMemory: sluice's peak RSS while answering %.0f MiB; the baseline process's peak %.0f MiB (the whole table in memory).\n", r.SluiceRSSMiB, r.DirectRSSMiB)
	} else {
		fmt.Fprintf(&b, "\nMemory: sluice's peak RSS while answering %.0f MiB (the ClickHouse servers' memory is not sampled).\n", r.SluiceRSSMiB)
	}
	if c.env != "" {
		b.WriteString("\n")
		for _, kv := range c.envPairs() {
			fmt.Fprintf(&b, "- %s: %s\n", kv[0], kv[1])
		}
	}
	return b.String()
}
