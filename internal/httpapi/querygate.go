package httpapi

import (
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
