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

// wallShare is a share of the wall time of sluice's producing connections.
type wallShare struct {
	What  string
	Dur   time.Duration
	Share float64
}

// connWallTime reads a Go execution trace of sluice and splits the wall
// time of every client connection that forwarded a Produce request by what
// its goroutine was doing: running, waiting for a CPU, blocked on the
// client, blocked on the broker. A connection is served by one goroutine
// that reads a request, forwards it, waits for the answer and writes it
// back, so this is where a request's time inside sluice goes.
func connWallTime(file string) (shares []wallShare, conns int, span time.Duration, err error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return nil, 0, 0, err
	}
	type gstate struct {
		what     string
		since    trace.Time
		producer bool
		acc      map[string]time.Duration
	}
	gs := map[trace.GoID]*gstate{}
	var first, last trace.Time
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, 0, err
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
		id := st.Resource.Goroutine()
		g := gs[id]
		if g == nil {
			g = &gstate{acc: map[string]time.Duration{}}
			gs[id] = g
		}
		if g.what != "" {
			g.acc[g.what] += now.Sub(g.since)
		}
		var stack []string
		for fr := range st.Stack.Frames() {
			stack = append(stack, fr.Func)
		}
		if has(stack, "gateway.(*Gateway).produce") {
			g.producer = true
		}
		_, to := st.Goroutine()
		g.what, g.since = wallCategory(to, st.Reason, stack), now
	}
	total := time.Duration(0)
	sums := map[string]time.Duration{}
	for _, g := range gs {
		if !g.producer {
			continue
		}
		if g.what != "" {
			g.acc[g.what] += last.Sub(g.since)
		}
		conns++
		for k, v := range g.acc {
			sums[k] += v
			total += v
		}
	}
	if conns == 0 || total == 0 {
		return nil, 0, last.Sub(first), errors.New("no connection forwarded a Produce request during the trace")
	}
	for k, v := range sums {
		shares = append(shares, wallShare{What: k, Dur: v, Share: float64(v) / float64(total)})
	}
	slices.SortFunc(shares, func(a, b wallShare) int {
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

func wallCategory(to trace.GoState, reason string, stack []string) string {
	where := func() string {
		switch {
		case has(stack, "kafkaproto.(*Conn).readFrame"):
			return "reading the client's request"
		case has(stack, "gateway.(*upstream).send"):
			return "writing the request to the broker"
		case has(stack, "gateway.(*upstream).receive"):
			return "waiting for and reading the broker's answer"
		case has(stack, "kafkaproto.(*Conn).write"):
			return "writing the response to the client"
		case len(stack) > 0:
			return stack[0]
		}
		return "unknown"
	}
	switch to {
	case trace.GoRunning:
		return "running (Go's view: includes time the kernel gave its core to another process)"
	case trace.GoRunnable:
		return "runnable, waiting for a CPU"
	case trace.GoSyscall:
		return "in a system call: " + where()
	case trace.GoWaiting:
		if reason == "" {
			reason = "waiting"
		}
		return "blocked (" + reason + "): " + where()
	}
	return ""
}
