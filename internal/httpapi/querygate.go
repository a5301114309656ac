package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// queryGate bounds the queries each project runs at once
// (limits.MaxConcurrentQueriesPerProject), so that one tenant's burst of
// heavy queries waits on itself, not on everyone's store.
type queryGate struct {
	max     int
	mu      sync.Mutex
	running map[string]int // by project
}

func newQueryGate(max int) *queryGate {
	return &queryGate{max: max, running: map[string]int{}}
}

// enter admits one more query of pid, or answers 429 and returns false.
// An admitted query calls leave when it is done.
func (g *queryGate) enter(w http.ResponseWriter, pid string) bool {
	g.mu.Lock()
	n := g.running[pid]
	if n < g.max {
		g.running[pid] = n + 1
	}
	g.mu.Unlock()
	if n < g.max {
		return true
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, tooManyRequests,
		"This project already runs "+strconv.Itoa(g.max)+" queries, the most it runs at once; retry when one has finished.")
	return false
}

func (g *queryGate) leave(pid string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running[pid]--; g.running[pid] <= 0 {
		delete(g.running, pid)
	}
}

// extractionBudget bounds the bytes of extraction answers the process
// holds at once (limits.Config.MaxExtractionBytesInFlight): each
// extraction is capped on its own, but many projects could each run
// max-size extractions together. An extraction reserves its cap before it
// runs (its size is known only once read), and keeps what its answer
// holds while it is written.
type extractionBudget struct {
	max  int64
	mu   sync.Mutex
	used int64
}

// ErrExtractionCapacity is the error_code of an extraction refused because
// the process holds its most extraction answers already.
const ErrExtractionCapacity = "ExtractionCapacityError"

// reserve takes n bytes (at most the whole budget, so an extraction as
// large as the budget can still run alone), or answers 503 with
// Retry-After and returns nil.
func (b *extractionBudget) reserve(w http.ResponseWriter, n int64) *reservation {
	n = min(n, b.max)
	b.mu.Lock()
	ok := b.used+n <= b.max
	if ok {
		b.used += n
	}
	b.mu.Unlock()
	if ok {
		return &reservation{b: b, n: n}
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, ErrExtractionCapacity,
		fmt.Sprintf("The server already holds extraction answers of up to %d bytes (%d MiB), the most it holds at once (--max-extraction-bytes-in-flight); retry in a moment.", b.max, b.max>>20))
	return nil
}

// reservation is an extraction's share of the budget.
type reservation struct {
	b *extractionBudget
	n int64
}

// shrink keeps only n bytes of the reservation (what the answer holds).
func (r *reservation) shrink(n int64) {
	if n >= r.n {
		return
	}
	r.b.mu.Lock()
	r.b.used -= r.n - n
	r.b.mu.Unlock()
	r.n = n
}

// release gives the reservation back.
func (r *reservation) release() { r.shrink(0) }
