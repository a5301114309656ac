package event

import (
	"strings"
	"testing"
)

// TestIDIsStable pins keen.id: the store is idempotent on it, so the id of a
// record must never change from one sluice version to the next.
func TestIDIsStable(t *testing.T) {
	for _, c := range []struct {
		topic string
		part  int32
		off   int64
		want  string
	}{
		{"sluice.in.0123456789abcdef01234567.purchases", 3, 42, "38d64520f5c8db74e322d089"},
		{"", 0, 0, "10f85211ba66900bc0493484"},
		{"sluice.inak.0123456789abcdef01234567.0123456789abcdef." + strings.Repeat("c", 200), -1, 1 << 62, "b61309b2f68c4890519a4793"},
	} {
		if got := ID(c.topic, c.part, c.off); got != c.want {
			t.Errorf("ID(%.40q, %d, %d) = %s, want %s", c.topic, c.part, c.off, got, c.want)
		}
	}
}

// BenchmarkID: the pipeline computes one id per record.
func BenchmarkID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ID("sluice.in.0123456789abcdef01234567.purchases", 3, 42)
	}
}
