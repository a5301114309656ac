package store

import (
	"fmt"
	"testing"
)

func TestIDFilter(t *testing.T) {
	f := newIDFilter(0)
	const n = 100_000 // several times the first part's capacity: the filter grows
	for i := 0; i < n; i++ {
		f.add(fmt.Sprintf("%024x", i))
	}
	if len(f.parts) < 2 {
		t.Fatalf("the filter did not grow: %d parts", len(f.parts))
	}
	for i := 0; i < n; i++ {
		if id := fmt.Sprintf("%024x", i); !f.mayContain(id) {
			t.Fatalf("%s added but not found", id)
		}
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if f.mayContain(fmt.Sprintf("%024x", i)) {
			fp++
		}
	}
	// Each part is sized for ~1% false positives; with a few parts the
	// rate adds up. 5% would mean the filter is broken (an all-ones filter
	// answers 100%).
	if rate := float64(fp) / n; rate > 0.05 {
		t.Fatalf("false positive rate %.3f", rate)
	}
}
