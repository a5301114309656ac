package httpapi

import (
	"net/http/httptest"
	"testing"
)

// The extraction budget: a reservation larger than the budget takes all
// of it (it can run alone); shrinking gives back the difference; release
// gives back the rest.
func TestExtractionBudget(t *testing.T) {
	b := &extractionBudget{max: 100}
	take := func(n int64) *reservation {
		t.Helper()
		w := httptest.NewRecorder()
		r := b.reserve(w, n)
		if (r == nil) != (w.Code == 503) {
			t.Fatalf("reserve(%d): %v, answered %d", n, r, w.Code)
		}
		return r
	}
	x := take(60)
	if take(50) != nil {
		t.Fatal("60 + 50 of 100 reserved")
	}
	x.shrink(10)
	y := take(50)
	if y == nil || b.used != 60 {
		t.Fatalf("after shrinking to 10: %v, used %d", y, b.used)
	}
	x.shrink(20) // never grows
	x.release()
	y.release()
	if b.used != 0 {
		t.Fatalf("used %d after every release", b.used)
	}
	z := take(1000)
	if z == nil || b.used != 100 || take(1) != nil {
		t.Fatalf("a reservation over the budget: %v, used %d", z, b.used)
	}
	z.release()
}
