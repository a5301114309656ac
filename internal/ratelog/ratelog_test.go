package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func TestLimiter(t *testing.T) {
	buf := &syncBuffer{}
	const interval = 200 * time.Millisecond
	l := New(slog.New(slog.NewTextHandler(buf, nil)), slog.LevelInfo, "auth failed", interval, 2)
	defer l.Stop()

	for i := range 1000 {
		l.Log("n", i)
	}
	if got := buf.lines(); len(got) != 2 {
		t.Fatalf("during the burst: %d lines, want 2: %q", len(got), got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(buf.lines()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := buf.lines()
	if len(got) != 3 || !strings.Contains(got[2], "suppressed=998") || !strings.Contains(got[2], "last.n=999") {
		t.Fatalf("after the interval: %q", got)
	}

	// A steady flood: one summary per interval, nothing in full.
	l.Log("n", 1000)
	for len(buf.lines()) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := buf.lines(); len(got) != 4 || !strings.Contains(got[3], "suppressed=1 ") {
		t.Fatalf("second interval: %q", got)
	}

	// Quiet for an interval: the next line is written in full again.
	time.Sleep(2 * interval)
	l.Log("n", 1001)
	if got := buf.lines(); len(got) != 5 || !strings.Contains(got[4], "n=1001") || strings.Contains(got[4], "suppressed") {
		t.Fatalf("after a quiet interval: %q", got)
	}
}
