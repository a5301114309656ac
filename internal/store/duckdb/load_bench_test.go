package duckdb

import (
	"context"
	"fmt"
	"github.com/sluice-io/sluice/internal/store"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLoad1M inserts 1M events of about 1 KB in batches of 10,000
// (from 9 partitions, as the pipeline gives them) and prints, per 100,000
// events, the CPU per event and the slowest Insert (checkpoints included:
// they block commits, so the slowest Insert bounds the pipeline's stalls).
// Set SLUICE_BENCH_1M=1 to run it; SLUICE_BENCH_WORDS=1 uses the pipeline
// benchmark's event shape (fewer properties, 700 bytes of word-like text)
// instead of benchEvents'.
//
//	SLUICE_BENCH_1M=1 go test -run x -bench Load1M -benchtime 1x ./internal/store/
func BenchmarkLoad1M(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_1M") == "" {
		b.Skip("set SLUICE_BENCH_1M=1 to run")
	}
	const total = 1_000_000
	batch := 10_000
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_BATCH")); err == nil && n > 0 {
		batch = n
	}
	window := (100_000 + batch - 1) / batch * batch // whole batches, about 100,000 events
	for b.Loop() {
		s := openTest(b, b.TempDir())
		ctx := context.Background()
		r := rand.New(rand.NewPCG(1, 1))
		var wall, cpu, worst, allCPU, allWorst time.Duration
		var done int
		for i := 0; i < total; i += batch {
			b.StopTimer()
			gen := benchEvents
			if os.Getenv("SLUICE_BENCH_WORDS") != "" {
				gen = wordEvents
			}
			evs := gen(r, "p1", "pageviews", fmt.Sprintf("pv%d-", i), batch)
			for j := range evs {
				evs[j].Source = store.Source{Topic: "raw.pageviews", Partition: int32(j % 9), Offset: int64((i + j) / 9)}
			}
			b.StartTimer()
			w0, c0 := time.Now(), processCPU()
			if _, err := s.Insert(ctx, evs); err != nil {
				b.Fatal(err)
			}
			d, c := time.Since(w0), processCPU()-c0
			done += batch
			wall, cpu, allCPU = wall+d, cpu+c, allCPU+c
			worst, allWorst = max(worst, d), max(allWorst, d)
			if (i+batch)%window == 0 {
				fmt.Fprintf(os.Stderr, "%8d events: %5.1f µs CPU/event, %6.0f events/s, slowest insert %v\n",
					i+batch, float64(cpu.Microseconds())/float64(window), float64(window)/wall.Seconds(), worst.Round(time.Millisecond))
				wall, cpu, worst = 0, 0, 0
			}
		}
		s.Close()
		b.ReportMetric(float64(allCPU.Microseconds())/float64(done), "cpu-µs/event")
		b.ReportMetric(float64(allWorst.Milliseconds()), "slowest-insert-ms")
	}
}

// wordEvents returns n events shaped like the pipeline benchmark's
// (bench/load.go payloads, after enrichment): a few short properties, four
// tags and about 700 bytes of word-like text, 1 KB in all.
func wordEvents(r *rand.Rand, project, collection, idPrefix string, n int) []store.Event {
	words := strings.Fields(`page view click purchase signup login logout search cart checkout
		product category home about pricing docs blog careers contact support account settings
		chrome firefox safari edge android ios linux windows macos mobile desktop tablet
		paris london berlin madrid tokyo sydney toronto chicago austin denver seattle boston`)
	word := func() string { return words[r.IntN(len(words))] }
	evs := make([]store.Event, n)
	for i := range evs {
		ts := genBase.Add(time.Duration(r.Int64N(int64(genSpan/time.Millisecond))) * time.Millisecond)
		id := fmt.Sprintf("%s%d", idPrefix, i)
		var text strings.Builder
		for text.Len() < 700 {
			text.WriteString(word())
			text.WriteByte(' ')
		}
		doc := kv(
			"event_id", fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()),
			"keen", kv("timestamp", ts.Format("2006-01-02T15:04:05.000Z"), "created_at", ts.Format("2006-01-02T15:04:05.000Z"), "id", id),
			"user", kv("id", r.IntN(1_000_000), "plan", word(), "country", word()),
			"action", word(),
			"amount", float64(r.IntN(100000))/100,
			"tags", []any{word(), word(), word(), word()},
			"text", text.String(),
		)
		evs[i] = store.Event{ProjectID: project, Collection: collection, ID: id, Timestamp: ts, CreatedAt: ts, JSON: []byte(doc)}
	}
	return evs
}
