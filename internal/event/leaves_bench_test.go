package event

import (
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
)

// BenchmarkLeaves compares the two ways the store gets an event's leaves:
// Process then leaf.Flatten of the stored JSON, and Process noting them as
// it streams the event (Input.Leaves), on an event like the pipeline
// benchmark's (bench/load.go). The machine is noisy: run with -count and
// compare the distributions.
func BenchmarkLeaves(b *testing.B) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	payload := []byte(`{"event_id":"0123456789abcdef0123456789abcdef","keen":{"timestamp":"2026-01-02T03:04:05.678Z"},"user":{"id":123456,"plan":"pricing","country":"paris"},"action":"click","amount":123.45,"tags":["a","bb","ccc","dddd"],"text":"page view click purchase signup login logout search cart checkout product category home about pricing docs blog careers contact support account settings chrome firefox safari edge android ios linux windows macos mobile desktop tablet paris london berlin madrid tokyo sydney toronto chicago austin denver seattle boston page view click purchase signup login logout search cart checkout product category home about pricing docs blog careers contact support account settings chrome firefox safari edge android ios linux windows macos mobile desktop tablet paris london berlin madrid tokyo sydney toronto chicago austin denver seattle boston page view click purchase signup login logout search cart checkout product category home about pricing docs blog careers contact support account settings chrome firefox safari edge android ios linux windows macos mobile desktop tablet paris london berlin madrid tokyo sydney toronto chicago austin denver seattle boston xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	p, _ := NewProcessor(nil)
	var f leaf.Flattener
	var out []leaf.Field
	b.Run("process+flatten", func(b *testing.B) {
		in := Input{Payload: payload, RecordTime: now, ID: ID("t", 0, 1), CreatedAt: now}
		for b.Loop() {
			ev, err := p.Process(in)
			if err != nil {
				b.Fatal(err)
			}
			if out, err = f.Flatten(ev.JSON, true, out[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("process-noting-leaves", func(b *testing.B) {
		in := Input{Payload: payload, RecordTime: now, ID: ID("t", 0, 1), CreatedAt: now, Leaves: true}
		for b.Loop() {
			ev, err := p.Process(in)
			if err != nil || ev.Leaves == nil {
				b.Fatal("no leaves", err)
			}
		}
	})
}
