package duckdb

import (
	"context"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
)

// benchEvents returns n events of about 1 KB in one collection.
func benchEvents(r *rand.Rand, project, collection, idPrefix string, n int) []store.Event {
	pad := strings.Repeat("x", 560)
	evs := make([]store.Event, n)
	for i := range evs {
		ts := genBase.Add(time.Duration(r.Int64N(int64(genSpan/time.Millisecond))) * time.Millisecond)
		id := fmt.Sprintf("%s%d", idPrefix, i)
		doc := kv(
			"keen", kv("timestamp", ts.Format("2006-01-02T15:04:05.000Z"), "created_at", ts.Format("2006-01-02T15:04:05.000Z"), "id", id),
			"country", pick(r, genCountries),
			"price", r.IntN(10000),
			"is_mobile", r.IntN(2) == 0,
			"code", pick(r, genNumbers),
			"tags", []any{pick(r, genTags), pick(r, genTags)},
			"user", kv("id", r.IntN(100000), "name", fmt.Sprintf("user%d", r.IntN(5000)), "address", kv("city", pick(r, genCities))),
			"page_url", fmt.Sprintf("https://example.com/products/%d?ref=campaign-%d", r.IntN(1000), r.IntN(50)),
			"referrer", fmt.Sprintf("https://search.example.org/?q=term%d", r.IntN(10000)),
			"session_id", fmt.Sprintf("%016x", r.Uint64()),
			"user_agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
			"payload", pad,
		)
		evs[i] = store.Event{ProjectID: project, Collection: collection, ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(doc)}
	}
	return evs
}

// BenchmarkCount1M loads 1M events of about 1 KB into one collection (and
// 100k into others), then measures counts with one filter. Set
// SLUICE_BENCH_1M=1 to run it (it takes minutes).
func BenchmarkCount1M(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_1M") == "" {
		b.Skip("set SLUICE_BENCH_1M=1 to run")
	}
	// SLUICE_BENCH_DIR keeps the loaded store between runs.
	dir := os.Getenv("SLUICE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	s := openTest(b, dir)
	defer s.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 1))
	const total, batch = 1_000_000, 10_000
	start := time.Now()
	loaded, err := s.Count(ctx, store.Query{ProjectID: "p1", Collection: "pageviews"})
	if err != nil {
		b.Fatal(err)
	}
	for i := int(loaded); i < total; i += batch {
		evs := benchEvents(r, "p1", "pageviews", fmt.Sprintf("pv%d-", i), batch)
		for j := range evs { // as the pipeline gives them: from 9 partitions
			evs[j].Source = store.Source{Topic: "raw.pageviews", Partition: int32(j % 9), Offset: int64((i + j) / 9)}
		}
		if _, err := s.Insert(ctx, evs); err != nil {
			b.Fatal(err)
		}
		if (i+batch)%200_000 == 0 {
			fmt.Fprintf(os.Stderr, "%d events loaded, %v\n", i+batch, time.Since(start).Round(time.Millisecond))
		}
	}
	load := time.Since(start)
	for _, c := range []string{"clicks", "signups"} {
		if loaded > 0 {
			break
		}
		for i := 0; i < 50_000; i += batch {
			if _, err := s.Insert(ctx, benchEvents(r, "p1", c, fmt.Sprintf("%s%d-", c, i), batch)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if loaded == 0 {
		fmt.Fprintf(os.Stderr, "loaded %d events into one collection in %v (%.0f events/s, generation included)\n", total, load, float64(total)/load.Seconds())
	}

	for _, bc := range []struct {
		name string
		q    store.Query
	}{
		{"eq_string", store.Query{Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "France"}}}},
		{"gt_number", store.Query{Filters: []store.Filter{{Path: []string{"price"}, Operator: "gt", Value: n("5000")}}}},
		{"nested_eq", store.Query{Filters: []store.Filter{{Path: []string{"user", "address", "city"}, Operator: "eq", Value: "Paris"}}}},
		{"ne_string", store.Query{Filters: []store.Filter{{Path: []string{"country"}, Operator: "ne", Value: "France"}}}},
		{"contains", store.Query{Filters: []store.Filter{{Path: []string{"page_url"}, Operator: "contains", Value: "campaign-7"}}}},
		{"eq_string_7days", store.Query{Start: genBase.Add(10 * 24 * time.Hour), End: genBase.Add(17 * 24 * time.Hour), Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "France"}}}},
		{"no_filter", store.Query{}},
	} {
		q := bc.q
		q.ProjectID, q.Collection = "p1", "pageviews"
		b.Run(bc.name, func(b *testing.B) {
			var c int64
			for b.Loop() {
				var err error
				if c, err = s.Count(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c), "matches")
		})
	}
	b.Run("extract_latest_100", func(b *testing.B) {
		q := store.Query{ProjectID: "p1", Collection: "pageviews", Latest: 100, Filters: []store.Filter{{Path: []string{"country"}, Operator: "eq", Value: "France"}}}
		for b.Loop() {
			if _, err := s.Extract(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkInsert inserts batches of about 1 KB events and reports
// events/s (wall) and CPU µs per event (the whole process's CPU time,
// DuckDB's threads included, during the Inserts and a final CHECKPOINT,
// which writes the WAL's rows into the database file; generation
// excluded). CPU per event is the figure to compare on a shared machine;
// the _safe cases measure what the chunk appender (appender.go) saves.
//
//	go test -run x -bench Insert -benchtime 40x ./internal/store/
func BenchmarkInsert(b *testing.B) {
	for _, bc := range []struct {
		name        string
		batch       int
		collections int
		safe        bool // through duckdb-go's public Appender (safeappender.go)
	}{
		{"batch5000_1coll", 5000, 1, false},
		{"batch20000_4coll", 20000, 4, false},
		{"batch5000_1coll_safe", 5000, 1, true},
		{"batch20000_4coll_safe", 20000, 4, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openTest(b, b.TempDir())
			defer s.Close()
			s.safeAppend = bc.safe
			ctx := context.Background()
			r := rand.New(rand.NewPCG(2, 2))
			var events int
			var elapsed, cpu time.Duration
			i := 0
			for b.Loop() {
				b.StopTimer()
				var evs []store.Event
				for c := 0; c < bc.collections; c++ {
					evs = append(evs, benchEvents(r, "p1", fmt.Sprintf("coll%d", c), fmt.Sprintf("b%d-%d-", i, c), bc.batch/bc.collections)...)
				}
				i++
				b.StartTimer()
				t0, c0 := time.Now(), processCPU()
				if _, err := s.Insert(ctx, evs); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(t0)
				cpu += processCPU() - c0
				events += len(evs)
			}
			t0, c0 := time.Now(), processCPU()
			if err := s.ck.now(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64((processCPU()-c0).Microseconds())/float64(events), "ckpt-cpu-µs/event")
			elapsed += time.Since(t0)
			cpu += processCPU() - c0
			b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(events), "cpu-µs/event")
		})
	}
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFlatten flattens about 1 KB events with one reused flattener,
// as Insert does.
func BenchmarkFlatten(b *testing.B) {
	evs := benchEvents(rand.New(rand.NewPCG(3, 3)), "p", "c", "x", 1000)
	var f leaf.Flattener
	var out []leaf.Field
	i := 0
	for b.Loop() {
		var err error
		if out, err = f.Flatten(evs[i%len(evs)].JSON, true, out[:0]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
