// Package health tells whether this sluice process can do its work: whether
// the backend accepts new connections and answers, whether the pipeline is
// making progress, whether the data directory has room. /healthz shows its
// report.
//
// Probes run in the background on a fixed period, never per request: a
// client polling /healthz as fast as it can costs the backend nothing.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// State is a component's or the whole process's condition.
type State string

const (
	// OK: working.
	OK State = "ok"
	// Degraded: not doing all of its work (retrying, unreachable, short of
	// room); it may recover by itself.
	Degraded State = "degraded"
	// Starting: not checked yet.
	Starting State = "starting"
)

// Status is one component's condition.
type Status struct {
	State  State  `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Since is when the component entered this state.
	Since time.Time `json:"since"`
}

// Probe checks one component. It must return within ctx's deadline.
type Probe func(ctx context.Context) (State, string)

// Report is the state of every component and of the whole.
type Report struct {
	State      State             `json:"status"`
	Components map[string]Status `json:"components,omitempty"`
}

// Monitor runs probes in the background and keeps their latest answers.
type Monitor struct {
	period time.Duration
	log    *slog.Logger

	mu     sync.Mutex
	probes map[string]Probe
	status map[string]Status
}

// NewMonitor returns a monitor that runs each probe every period.
func NewMonitor(period time.Duration, log *slog.Logger) *Monitor {
	return &Monitor{period: period, log: log, probes: map[string]Probe{}, status: map[string]Status{}}
}

// Add registers a probe under name; it shows as Starting until it first runs.
func (m *Monitor) Add(name string, p Probe) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.probes[name] = p
	m.status[name] = Status{State: Starting, Since: time.Now()}
}

// Run probes every period until ctx ends. The first round runs at once.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.period)
	defer t.Stop()
	for {
		m.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNow runs every probe once, in parallel, each bounded by the period.
func (m *Monitor) CheckNow(ctx context.Context) {
	m.mu.Lock()
	probes := make(map[string]Probe, len(m.probes))
	for name, p := range m.probes {
		probes[name] = p
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for name, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, m.period)
			defer cancel()
			state, detail := p(pctx)
			if ctx.Err() != nil {
				return // shutting down: keep the last real answer
			}
			m.set(name, state, detail)
		}()
	}
	wg.Wait()
}

// set records a probe's answer; a change of state is logged once.
func (m *Monitor) set(name string, state State, detail string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.status[name]
	if old.State == state {
		old.Detail = detail
		m.status[name] = old
		return
	}
	m.status[name] = Status{State: state, Detail: detail, Since: time.Now()}
	switch {
	case state == OK && old.State != Starting:
		m.log.Info("health: recovered", "component", name, "was", old.State, "for", time.Since(old.Since).Round(time.Second))
	case state != OK:
		m.log.Warn("health: "+string(state), "component", name, "detail", detail)
	}
}

// Report returns the latest answers. The whole is OK when every component
// is, Starting while any has not answered yet, and Degraded otherwise.
func (m *Monitor) Report() Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := Report{State: OK, Components: make(map[string]Status, len(m.status))}
	for name, s := range m.status {
		r.Components[name] = s
		r.State = worse(r.State, s.State)
	}
	return r
}

// worse orders states: Degraded over Starting over OK.
func worse(a, b State) State {
	rank := map[State]int{OK: 0, Starting: 1, Degraded: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Names lists the registered components, sorted (for logs and tests).
func (m *Monitor) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.probes))
	for n := range m.probes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Errorf is a Degraded answer with a formatted detail.
func Errorf(format string, args ...any) (State, string) {
	return Degraded, fmt.Sprintf(format, args...)
}
