package duckdb

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkMemoryGrowth inserts SLUICE_BENCH_STEADY events (3,000,000 by
// default) in batches of 250 into one collection and, every 100,000,
// prints the process's anonymous memory apart: Go's (after a GC that
// returns what it can), DuckDB's buffer manager (MemoryBytes) and the
// rest (C allocations outside the buffer manager, docs/store.md, Settings).
// SLUICE_BENCH_BATCH sets the events per Insert, SLUICE_BENCH_REOPEN the
// events between reopens of the database (reopenEvents; 0: never). To split the rest by
// allocator, build the test binary (go test -c) and, while it runs, have
// glibc and DuckDB's jemalloc print their figures to its stderr:
//
//	gdb -p PID -batch -ex 'set language c' -ex 'call (void)malloc_stats()' \
//	    -ex 'call (void)duckdb_je_malloc_stats_print(0, 0, "dablxeh")'
//
//	SLUICE_BENCH_1M=1 go test -run x -bench MemoryGrowth -benchtime 1x ./internal/store/duckdb/
func BenchmarkMemoryGrowth(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_1M") == "" {
		b.Skip("set SLUICE_BENCH_1M=1 to run")
	}
	total, batch := steadyParams(3_000_000)
	for b.Loop() {
		s := openTest(b, b.TempDir())
		if n, err := strconv.ParseInt(os.Getenv("SLUICE_BENCH_REOPEN"), 10, 64); err == nil {
			s.reopenEvery = n
		}
		ctx := context.Background()
		batches := steadyBatches(total, batch)
		var src steadySource
		for i := 0; i < total; i += batch {
			evs := src.next(batches, i, batch)
			reopens, t0 := s.reopens, time.Now()
			if _, err := s.Insert(ctx, evs); err != nil {
				b.Fatal(err)
			}
			if s.reopens != reopens {
				fmt.Fprintf(os.Stderr, "%8d events: reopened the database; that Insert took %v\n", i+batch, time.Since(t0).Round(time.Millisecond))
			}
			if (i+batch)/100_000 > i/100_000 {
				debug.FreeOSMemory()
				anon := anonBytes()
				goMem := goMappedBytes()
				duck, err := s.MemoryBytes(ctx)
				if err != nil {
					b.Fatal(err)
				}
				fmt.Fprintf(os.Stderr, "%8d events: anon %4d MiB = Go %4d + buffers %4d + rest %4d\n",
					i+batch, anon>>20, goMem>>20, duck>>20, (anon-goMem-duck)>>20)
			}
		}
		s.Close()
	}
}

func anonBytes() int64 {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Anonymous:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

func goMappedBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
