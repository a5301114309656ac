// Package ratelog bounds how often one kind of log line is written: a
// failure a client can repeat at will (a wrong password, a refused
// connection) must not turn into a log flood. The first few occurrences of
// an interval are logged in full; the rest are counted, and one summary
// line with the count (and the last occurrence's attributes) follows at the
// end of the interval. Metrics, not logs, are where every occurrence counts.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter rate-limits one kind of line. Safe for concurrent use; the zero
// value is not usable, see New.
type Limiter struct {
	log      *slog.Logger
	level    slog.Level
	msg      string
	interval time.Duration
	burst    int

	mu         sync.Mutex
	windowEnd  time.Time
	logged     int   // full lines in the current window
	suppressed int   // lines counted instead since the window's start
	last       []any // attributes of the last suppressed line
	summary    *time.Timer
}

// New returns a limiter for lines with message msg at level: at most burst
// full lines per interval, then one summary line per interval.
func New(log *slog.Logger, level slog.Level, msg string, interval time.Duration, burst int) *Limiter {
	return &Limiter{log: log, level: level, msg: msg, interval: interval, burst: max(burst, 1)}
}

// Log writes the line, or counts it when the interval's burst is spent.
func (l *Limiter) Log(args ...any) {
	now := time.Now()
	l.mu.Lock()
	if now.After(l.windowEnd) && l.summary == nil {
		l.windowEnd = now.Add(l.interval)
		l.logged = 0
	}
	if l.logged < l.burst {
		l.logged++
		l.mu.Unlock()
		l.log.Log(context.Background(), l.level, l.msg, args...)
		return
	}
	l.suppressed++
	l.last = args
	if l.summary == nil {
		l.summary = time.AfterFunc(time.Until(l.windowEnd), l.flush)
	}
	l.mu.Unlock()
}

// flush writes the summary of the window that just ended and starts the
// next one, so that a steady flood yields one line per interval.
func (l *Limiter) flush() {
	l.mu.Lock()
	n, last := l.suppressed, l.last
	l.suppressed, l.last = 0, nil
	l.summary = nil
	l.windowEnd = time.Now().Add(l.interval)
	l.logged = l.burst // the summary stands for this window's lines too
	l.mu.Unlock()
	if n == 0 {
		return
	}
	l.log.Log(context.Background(), l.level, l.msg+" (repeated; not logged individually)",
		"suppressed", n, "interval", l.interval.String(), slog.Group("last", last...))
}

// Stop cancels a pending summary (for shutdown and tests); counted lines not
// yet summarized are written now.
func (l *Limiter) Stop() {
	l.mu.Lock()
	t := l.summary
	l.mu.Unlock()
	if t != nil && t.Stop() {
		l.flush()
	}
}
