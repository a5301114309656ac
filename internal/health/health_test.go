package health

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestReportTakesTheWorstState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []State
		want   State
	}{
		{"none", nil, OK},
		{"all ok", []State{OK, OK}, OK},
		{"one starting", []State{OK, Starting}, Starting},
		{"one degraded", []State{OK, Degraded}, Degraded},
		{"degraded beats starting", []State{Starting, Degraded, OK}, Degraded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMonitor(1, slog.New(slog.DiscardHandler))
			for i, s := range tc.states {
				name := string(rune('a' + i))
				m.Add(name, nil)
				if s != Starting {
					m.set(name, s, "")
				}
			}
			if got := m.Report().State; got != tc.want {
				t.Fatalf("report state %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMonitorLogsChangesOnce(t *testing.T) {
	var buf bytes.Buffer
	m := NewMonitor(1e9, slog.New(slog.NewTextHandler(&buf, nil)))
	state, detail := OK, ""
	m.Add("backend", func(context.Context) (State, string) { return state, detail })
	ctx := context.Background()
	m.CheckNow(ctx)
	if s := m.Report().Components["backend"]; s.State != OK {
		t.Fatalf("after an ok probe: %+v", s)
	}
	state, detail = Degraded, "broker 1 accepts no new connection"
	for range 5 {
		m.CheckNow(ctx)
	}
	r := m.Report()
	if r.State != Degraded || r.Components["backend"].Detail != detail {
		t.Fatalf("after a failing probe: %+v", r)
	}
	since := r.Components["backend"].Since
	m.CheckNow(ctx)
	if got := m.Report().Components["backend"].Since; !got.Equal(since) {
		t.Fatalf("since moved while the state stayed: %v → %v", since, got)
	}
	state = OK
	m.CheckNow(ctx)
	out := buf.String()
	if n := strings.Count(out, "health: degraded"); n != 1 {
		t.Fatalf("degraded logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "health: recovered"); n != 1 {
		t.Fatalf("recovery logged %d times, want once:\n%s", n, out)
	}
	if m.Report().State != OK {
		t.Fatalf("after recovery: %+v", m.Report())
	}
}

func TestDiskProbe(t *testing.T) {
	dir := t.TempDir()
	if s, d := DiskProbe(dir, 1)(context.Background()); s != OK {
		t.Fatalf("1 byte wanted: %s %s", s, d)
	}
	if s, d := DiskProbe(dir, 1<<62)(context.Background()); s != Degraded || !strings.Contains(d, "MiB free") {
		t.Fatalf("4 EiB wanted: %s %s", s, d)
	}
	if s, _ := DiskProbe(dir+"/missing", 1)(context.Background()); s != Degraded {
		t.Fatalf("missing dir: %s", s)
	}
}
