package event

import (
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
)

// BenchmarkReaders measures each JSON reader on its own, on the same 1 KB
// event without add-ons (docs/architecture.md, "Reading JSON", keeps the
// figures): the streaming path (stream.go), the tree path (parse.go, then
// writing the tree), and the flattener reading the stored JSON back
// (package leaf). CPU time per event is the figure on a shared machine.
func BenchmarkReaders(b *testing.B) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	p, _ := NewProcessor(nil)
	in := Input{Payload: event1KB(false), RecordTime: now, ID: ID("t", 0, 1), CreatedAt: now}
	stored, err := p.Process(in)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, f func() bool) {
		b.SetBytes(int64(len(in.Payload)))
		b.ReportAllocs()
		cpu := processCPU()
		for b.Loop() {
			if !f() {
				b.Fatal("failed")
			}
		}
		if cpu := processCPU() - cpu; cpu > 0 {
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
	b.Run("stream", func(b *testing.B) {
		run(b, func() bool {
			ws := getWorkspace()
			defer ws.release()
			_, ok := p.processStream(ws, &in)
			return ok
		})
	})
	b.Run("tree", func(b *testing.B) {
		run(b, func() bool {
			ws := getWorkspace()
			defer ws.release()
			_, _, err := p.processTree(ws, &in)
			return err == nil
		})
	})
	var f leaf.Flattener
	var out []leaf.Field
	b.Run("flatten-stored", func(b *testing.B) {
		run(b, func() bool {
			var err error
			out, err = f.Flatten(stored.JSON, true, out[:0])
			return err == nil
		})
	})
}
