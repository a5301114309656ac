package main

import (
	"cmp"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// e2eHotspotRules sum a CPU profile of sluice during the end-to-end run,
// where the pipeline does most of the work, by component.
var e2eHotspotRules = []rule{
	{what: "pipeline: storing in DuckDB (store.Insert, cgo)", any: []string{"internal/store/duckdb.", "duckdb-go"}},
	{what: "pipeline: validating and enriching (internal/event)", any: []string{"internal/event.", "pipeline.(*Pipeline).validate", "pipeline.(*Pipeline).processPartition"}},
	{what: "pipeline: building and producing outbound records", any: []string{"pipeline.(*Pipeline).build", "pipeline.(*Pipeline).produce", "pipeline.outboundRecords"}},
	{what: "pipeline: franz-go (fetching raw records, producing, transactions)", any: []string{"franz-go/pkg/kgo."}},
	{what: "listeners: TLS", any: []string{"crypto/tls."}},
	{what: "listeners: Kafka protocol and gateway (Inbound and Outbound)", any: []string{"internal/kafkaproto.", "internal/gateway."}},
	{what: "garbage collector", any: []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart"}},
	{what: "Go scheduler and network poller", any: []string{"runtime.mcall", "runtime.schedule", "runtime.findRunnable", "runtime.netpoll", "runtime.morestack"}},
}

const stepPoll = "1. polling the raw topics (PollRecords)"

// pipelineStep names the step of the pipeline's loop (pipeline.go's run and
// handle: poll, validate, store, begin, produce, commit) from a stack of
// its goroutine.
func pipelineStep(stack []string) string {
	switch {
	case has(stack, "pipeline.(*Pipeline).validate"):
		return "2. validating and enriching the poll (validate)"
	case has(stack, "pipeline.(*Pipeline).storeAndBuild"):
		return "3. storing the poll in DuckDB and building the outbound records"
	case has(stack, "GroupTransactSession).Begin"):
		return "4. beginning the transaction"
	case has(stack, "pipeline.(*Pipeline).produce"):
		return "5. producing the outbound records in the transaction"
	case has(stack, "GroupTransactSession).End"):
		return "6. committing: flush, offsets in the transaction, EndTxn"
	case has(stack, "PollRecords"), has(stack, "PollFetches"):
		return stepPoll
	}
	return "other"
}

// pipelineShare is a share of the pipeline loop's wall time.
type pipelineShare struct {
	Step  string        `json:"step"`
	State string        `json:"state"` // running, runnable, blocked, syscall
	Dur   time.Duration `json:"duration_ns"`
	Share float64       `json:"share"`
}

// pipelineWallTime reads a Go execution trace of sluice and splits the
// wall time of the pipeline's loop goroutine (Pipeline.run) by step and
// state. A running interval is put on the step its goroutine was in when
// it stopped running; a blocked one on the step it blocked in.
func pipelineWallTime(file string) ([]pipelineShare, time.Duration, error) {
	type gstate struct {
		state, step string
		since       trace.Time
		loop        bool
		acc         map[[2]string]time.Duration
	}
	gs := map[trace.GoID]*gstate{}
	first, last, err := goroutineTransitions(file, func(now trace.Time, id trace.GoID, st trace.StateTransition, stack []string) {
		g := gs[id]
		if g == nil {
			g = &gstate{step: "other", acc: map[[2]string]time.Duration{}}
			gs[id] = g
		}
		if has(stack, "pipeline.(*Pipeline).run") {
			g.loop = true
		}
		step := g.step
		if len(stack) > 0 {
			step = pipelineStep(stack)
		}
		if g.state != "" {
			at := g.step // blocked: where it blocked
			if g.state == "running" || g.state == "runnable, waiting for a CPU" {
				at = step // running: where it stopped running
			}
			g.acc[[2]string{at, g.state}] += now.Sub(g.since)
		}
		_, to := st.Goroutine()
		switch to {
		case trace.GoRunning:
			g.state = "running"
		case trace.GoRunnable:
			g.state = "runnable, waiting for a CPU"
		case trace.GoSyscall:
			g.state = "in a system call or cgo (DuckDB)"
		case trace.GoWaiting:
			g.state = "blocked (" + st.Reason + ")"
		default:
			g.state = ""
		}
		if len(stack) > 0 {
			g.step = step
		}
		g.since = now
	})
	if err != nil {
		return nil, 0, err
	}
	sums := map[[2]string]time.Duration{}
	var total time.Duration
	for _, g := range gs {
		if !g.loop {
			continue
		}
		if g.state != "" {
			g.acc[[2]string{g.step, g.state}] += last.Sub(g.since)
		}
		for k, v := range g.acc {
			sums[k] += v
			total += v
		}
	}
	if total == 0 {
		return nil, last.Sub(first), errors.New("no pipeline loop goroutine in the trace")
	}
	var out []pipelineShare
	for k, v := range sums {
		out = append(out, pipelineShare{Step: k[0], State: k[1], Dur: v, Share: float64(v) / float64(total)})
	}
	slices.SortFunc(out, func(a, b pipelineShare) int {
		if c := strings.Compare(a.Step, b.Step); c != 0 {
			return c
		}
		return cmp.Compare(b.Dur, a.Dur)
	})
	return out, last.Sub(first), nil
}

// obFetchDelays is what an execution trace shows of the Outbound
// listener's fetches: for each, the time from the broker's answer arriving
// to the response written to the client, and how much of it the
// connection's goroutine spent runnable, waiting for Go to give it a CPU.
type obFetchDelays struct {
	Fetches      int     `json:"fetches"`
	P50Ms        float64 `json:"p50_ms"`
	P90Ms        float64 `json:"p90_ms"`
	MaxMs        float64 `json:"max_ms"`
	RunnableMs   float64 `json:"runnable_ms"`    // summed over the fetches
	TotalMs      float64 `json:"total_ms"`       // summed over the fetches
	RunnableFrac float64 `json:"runnable_share"` // RunnableMs / TotalMs
}

// outboundFetchDelays reads a Go execution trace of sluice. A fetch starts
// when a goroutine of an Outbound connection, blocked in upstream.receive
// waiting for the head of the broker's answer, is woken; it ends when that
// goroutine next blocks anywhere but reading the rest of the answer or
// writing to the client: waiting for the next request, or for the head of
// the next answer (pipelined requests).
func outboundFetchDelays(file string) (obFetchDelays, error) {
	var out obFetchDelays
	// Where receive blocks waiting for the head of an answer: the line
	// it blocks at most (the body follows the head at once, so reading it
	// rarely blocks; fetches wait for the head in the broker's long poll).
	blocked := map[uint64]int{}
	if err := eachTransition(file, func(_ trace.Event, st trace.StateTransition) {
		if _, to := st.Goroutine(); to != trace.GoWaiting {
			return
		}
		for fr := range st.Stack.Frames() {
			if strings.HasSuffix(fr.Func, "gateway.(*upstream).receive") {
				blocked[fr.Line]++
			}
		}
	}); err != nil {
		return out, err
	}
	headLine := uint64(0)
	for line, n := range blocked {
		if headLine == 0 || n > blocked[headLine] {
			headLine = line
		}
	}
	type gstate struct {
		fetch, awaitingHead bool
		readyAt, runnSince  trace.Time
		runnable            time.Duration
	}
	gs := map[trace.GoID]*gstate{}
	var delays []float64
	end := func(g *gstate, now trace.Time) {
		if g.readyAt != 0 && g.fetch {
			d := now.Sub(g.readyAt)
			delays = append(delays, float64(d)/1e6)
			out.RunnableMs += float64(g.runnable) / 1e6
			out.TotalMs += float64(d) / 1e6
		}
		g.readyAt = 0
	}
	err := eachTransition(file, func(ev trace.Event, st trace.StateTransition) {
		g := gs[st.Resource.Goroutine()]
		if g == nil {
			g = &gstate{}
			gs[st.Resource.Goroutine()] = g
		}
		recvLine := uint64(0)
		var stack []string
		for fr := range st.Stack.Frames() {
			stack = append(stack, fr.Func)
			if strings.HasSuffix(fr.Func, "gateway.(*upstream).receive") {
				recvLine = fr.Line
			}
		}
		if has(stack, "gateway.(*Gateway).fetch") {
			g.fetch = true
		}
		from, to := st.Goroutine()
		now := ev.Time()
		if from == trace.GoRunnable && g.runnSince != 0 {
			if g.readyAt != 0 {
				g.runnable += now.Sub(g.runnSince)
			}
			g.runnSince = 0
		}
		if to == trace.GoRunnable {
			g.runnSince = now
		}
		if from == trace.GoWaiting && to == trace.GoRunnable && g.awaitingHead && g.readyAt == 0 {
			g.readyAt, g.runnSince, g.runnable = now, now, 0
			g.awaitingHead = false
		}
		if to != trace.GoWaiting || len(stack) == 0 {
			return
		}
		switch {
		case recvLine == headLine:
			end(g, now)
			g.awaitingHead = true
		case recvLine != 0, has(stack, "kafkaproto.(*Conn).writeRaw"):
			// the rest of the answer, or the client reading slowly
		default:
			end(g, now)
			g.awaitingHead = false
		}
	})
	if err != nil {
		return out, err
	}
	if len(delays) == 0 {
		return out, errors.New("no Outbound fetch answered during the trace")
	}
	slices.Sort(delays)
	out.Fetches = len(delays)
	out.P50Ms, out.P90Ms, out.MaxMs = quantile(delays, .5), quantile(delays, .9), delays[len(delays)-1]
	out.RunnableFrac = out.RunnableMs / out.TotalMs
	return out, nil
}

// eachTransition calls f for every goroutine state transition of a trace.
func eachTransition(file string, f func(trace.Event, trace.StateTransition)) error {
	fh, err := os.Open(file)
	if err != nil {
		return err
	}
	defer fh.Close()
	r, err := trace.NewReader(fh)
	if err != nil {
		return err
	}
	for {
		ev, err := r.ReadEvent()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		if st := ev.StateTransition(); st.Resource.Kind == trace.ResourceGoroutine {
			f(ev, st)
		}
	}
}
