package main

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// wallShare is a share of the wall time of one role of goroutine (the
// reader or the writer) of sluice's producing connections.
type wallShare struct {
	Role  string // "reader" or "writer"
	What  string
	Dur   time.Duration
	Share float64 // of the role's wall time
}

// Goroutine roles of a kafkaproto connection: the reader (Conn.serve) reads
// a request and starts it (for Produce: writes it to the broker); with
// pipelining, the writer (Conn.writeLoop) waits for each answer in request
// order and writes it back. Without pipelining the reader does both.
const (
	roleReader = "reader"
	roleWriter = "writer"
)

// connWallTime reads a Go execution trace of sluice and splits the wall time
// of the goroutines of every client connection that forwarded a Produce
// request, by role and by what the goroutine was doing: running, waiting
// for a CPU, blocked on the client, on the broker or on the other goroutine.
// conns counts the connections (their reader goroutines).
func connWallTime(file string) (shares []wallShare, conns int, span time.Duration, err error) {
	type gstate struct {
		what     string
		since    trace.Time
		producer bool
		role     string
		acc      map[string]time.Duration
	}
	gs := map[trace.GoID]*gstate{}
	first, last, err := goroutineTransitions(file, func(now trace.Time, id trace.GoID, st trace.StateTransition, stack []string) {
		g := gs[id]
		if g == nil {
			g = &gstate{acc: map[string]time.Duration{}}
			gs[id] = g
		}
		if g.what != "" {
			g.acc[g.what] += now.Sub(g.since)
		}
		if has(stack, "gateway.(*Gateway).produce") {
			g.producer = true
		}
		switch {
		case has(stack, "kafkaproto.(*Conn).writeLoop"):
			g.role = roleWriter
		case g.role == "" && has(stack, "kafkaproto.(*Conn).serve"):
			g.role = roleReader
		}
		_, to := st.Goroutine()
		g.what, g.since = wallCategory(to, st.Reason, stack), now
	})
	if err != nil {
		return nil, 0, 0, err
	}
	totals := map[string]time.Duration{}
	sums := map[[2]string]time.Duration{}
	for _, g := range gs {
		if !g.producer || g.role == "" {
			continue
		}
		if g.what != "" {
			g.acc[g.what] += last.Sub(g.since)
		}
		if g.role == roleReader {
			conns++
		}
		for k, v := range g.acc {
			sums[[2]string{g.role, k}] += v
			totals[g.role] += v
		}
	}
	if conns == 0 || totals[roleReader] == 0 {
		return nil, 0, last.Sub(first), errors.New("no connection forwarded a Produce request during the trace")
	}
	for k, v := range sums {
		shares = append(shares, wallShare{Role: k[0], What: k[1], Dur: v, Share: float64(v) / float64(totals[k[0]])})
	}
	slices.SortFunc(shares, func(a, b wallShare) int {
		if a.Role != b.Role {
			return strings.Compare(a.Role, b.Role) // reader before writer
		}
		if a.Dur != b.Dur {
			if a.Dur > b.Dur {
				return -1
			}
			return 1
		}
		return strings.Compare(a.What, b.What)
	})
	return shares, conns, last.Sub(first), nil
}

func has(stack []string, sub string) bool {
	for _, n := range stack {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// where names the step a goroutine is in from its stack, most specific
// first: a writer writing an answer also has the Produce's closure below it.
func where(stack []string) string {
	switch {
	case has(stack, "kafkaproto.(*Conn).writeRaw"), has(stack, "kafkaproto.(*Conn).answer"):
		return "writing the response to the client"
	case has(stack, "gateway.(*upstream).receive"):
		return "waiting for and reading the broker's answer"
	case has(stack, "gateway.(*upstream).send"):
		return "writing the request to the broker"
	case has(stack, "kafkaproto.(*Conn).enqueue"):
		return "handing the owed answer to the writer (its queue is full)"
	case has(stack, "kafkaproto.(*Conn).readFrame"):
		return "reading the client's request"
	case has(stack, "kafkaproto.(*Conn).writeLoop"):
		return "waiting for the reader to start the next request"
	}
	for _, n := range stack {
		if n != "" {
			return n
		}
	}
	return "unknown"
}

func wallCategory(to trace.GoState, reason string, stack []string) string {
	switch to {
	case trace.GoRunning:
		return "running (Go's view: includes time the kernel gave its core to another process)"
	case trace.GoRunnable:
		return "runnable, waiting for a CPU"
	case trace.GoSyscall:
		return "in a system call: " + where(stack)
	case trace.GoWaiting:
		if reason == "" {
			reason = "waiting"
		}
		return "blocked (" + reason + "): " + where(stack)
	}
	return ""
}

// goroutineTransitions reads a Go execution trace and calls fn for every
// goroutine state transition, with the function names of its stack
// (innermost first); it returns the times of the first and last events.
func goroutineTransitions(file string, fn func(now trace.Time, id trace.GoID, st trace.StateTransition, stack []string)) (first, last trace.Time, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return 0, 0, err
	}
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			return first, last, nil
		}
		if err != nil {
			return 0, 0, err
		}
		now := ev.Time()
		if first == 0 {
			first = now
		}
		last = now
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		var stack []string
		for fr := range st.Stack.Frames() {
			stack = append(stack, fr.Func)
		}
		fn(now, st.Resource.Goroutine(), st, stack)
	}
}
