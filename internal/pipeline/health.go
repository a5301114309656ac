package pipeline

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Health says whether the pipeline is making progress.
type Health struct {
	Retrying   bool      // the batch in hand has failed and is being retried
	Failures   int       // consecutive failed attempts of that batch
	LastError  string    // the latest failure ("" when none)
	Since      time.Time // when the first of those failures happened
	LastCommit time.Time // when a transaction last committed (zero: none yet)
	// Stage is the step the pipeline's loop is in (one of the stage
	// constants; "" while it waits out a backoff), since StageSince.
	Stage      string
	StageSince time.Time

	stageLimit time.Duration // stageStuckAfter when 0
}

// The steps of the pipeline's loop that may block: each is bounded (a
// poll by pollWait, the others by their own timeouts), so one that lasts
// longer than stageStuckAfter is stuck, whatever it waits for.
const (
	StagePolling    = "polling the raw topics"
	StageValidating = "validating a batch"
	StageStoring    = "storing a batch"
	StageTopics     = "creating outbound topics"
	StagePublishing = "publishing a batch"
	StageCommitting = "committing a batch"
	StageAborting   = "aborting a batch"
	StageSkipping   = "skipping an unreadable raw batch"
	StageRestarting = "restarting the transactional client"
)

// stageStuckAfter is how long a stage may last before Stuck says so: far
// beyond a slow batch (seconds) and beyond the transaction timeout (the
// coordinator has aborted a transaction open that long).
const stageStuckAfter = 30 * time.Second

// pollWait bounds one poll: an idle pipeline polls again after it, so a
// poll that has not returned long after it is stuck, not idle.
const pollWait = 5 * time.Second

// Health returns the pipeline's progress. It is safe for concurrent use.
func (p *Pipeline) Health() Health {
	p.health.mu.Lock()
	defer p.health.mu.Unlock()
	h := p.health.h
	h.stageLimit = p.cfg.stageLimit
	return h
}

// stage records that the loop enters a step.
func (p *Pipeline) stage(name string) {
	p.health.enter(name, time.Now())
	if p.cfg.stageHook != nil {
		p.cfg.stageHook(name)
	}
}

// Retry pacing of a failing batch: the first retry after minBackoff, each
// next one after twice as long, at most maxBackoff; a failing batch is
// logged when it starts failing and then at most every failureLogEvery.
const (
	minBackoff      = time.Second
	maxBackoff      = 30 * time.Second
	failureLogEvery = 30 * time.Second
)

// backoff is the wait before the retry that follows the failures-th
// consecutive failure.
func backoff(failures int) time.Duration {
	d := minBackoff
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// healthState is the pipeline's record of its failures, written by its
// loop and read by Health.
type healthState struct {
	mu      sync.Mutex
	h       Health
	lastLog time.Time // when the failing batch was last logged
}

// failed records a failed attempt of the batch in hand, logs it when due,
// and returns how long to wait before the next attempt.
func (s *healthState) failed(log *slog.Logger, err error, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &s.h
	if !h.Retrying {
		h.Retrying, h.Since = true, now
	}
	h.Failures++
	h.LastError = err.Error()
	wait := backoff(h.Failures)
	switch {
	case h.Failures == 1:
		s.lastLog = now
		log.Error("processing a batch failed; retrying it", "err", err, "retry_in", wait)
	case now.Sub(s.lastLog) >= failureLogEvery:
		s.lastLog = now
		log.Error("a batch is still failing; retrying it", "failures", h.Failures, "since", h.Since, "err", err, "retry_in", wait)
	}
	return wait
}

// isolated records an attempt that failed but found what it failed on: the
// next attempt gives those records their outcome, and follows at once.
func (s *healthState) isolated(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.h.Retrying {
		s.h.Retrying, s.h.Since = true, now
	}
	s.h.LastError = err.Error()
}

// committed records a committed transaction: the batch in hand is done.
func (s *healthState) committed(log *slog.Logger, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h.Failures > 0 {
		log.Info("a failing batch went through", "failures", s.h.Failures, "since", s.h.Since)
	}
	s.h = Health{LastCommit: now, Stage: s.h.Stage, StageSince: s.h.StageSince}
}

// enter records that the loop entered a stage at now.
func (s *healthState) enter(stage string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h.Stage, s.h.StageSince = stage, now
}

// failures is the count of consecutive failed attempts of the batch in
// hand.
func (s *healthState) failures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h.Failures
}

// fetchErrorPause is how long the loop waits after a poll that brought
// only errors.
const fetchErrorPause = 250 * time.Millisecond

// keyedLog bounds lines of one kind per key (a raw partition, an error):
// the first at once, then at most one every failureLogEvery, carrying the
// count of occurrences since the last line. A partition that fails on every
// fetch would otherwise log thousands of lines a second. Used by the
// pipeline's loop only; at most 1,000 keys are remembered (then it starts
// over, logging each key once more).
type keyedLog[K comparable] struct {
	seen map[K]*keyedSeen
}

type keyedSeen struct {
	logged time.Time
	since  int // occurrences since it was last logged
}

// due counts an occurrence of k and says whether to log it now, with the
// occurrences the line stands for.
func (l *keyedLog[K]) due(k K, now time.Time) (n int, ok bool) {
	if l.seen == nil || len(l.seen) > 1000 {
		l.seen = map[K]*keyedSeen{}
	}
	s := l.seen[k]
	if s == nil {
		s = &keyedSeen{}
		l.seen[k] = s
	}
	s.since++
	if !s.logged.IsZero() && now.Sub(s.logged) < failureLogEvery {
		return 0, false
	}
	n = s.since
	s.logged, s.since = now, 0
	return n, true
}

// fetchErrorLog logs each distinct error reading a raw partition.
type fetchErrorLog struct{ keyedLog[string] }

func (l *fetchErrorLog) warn(log *slog.Logger, topic string, partition int32, err error, now time.Time) {
	if n, ok := l.due(fmt.Sprintf("%s/%d/%v", topic, partition, err), now); ok {
		log.Warn("reading a raw topic", "topic", topic, "partition", partition, "err", err, "times", n)
	}
}

// Stuck says whether h shows a pipeline that is not making progress as of
// now, and why: a step of its loop has lasted longer than stageStuckAfter
// (blocked: a poll, a store Insert, a produce or a commit that does not
// return), a batch has failed more than once, or has been failing for
// longer than stuckAfter. One failure is not yet news: a rebalance or a
// broker moving leadership makes a batch fail once and go through on the
// next attempt.
func (h Health) Stuck(now time.Time) (bool, string) {
	limit := h.stageLimit
	if limit == 0 {
		limit = stageStuckAfter
	}
	if d := now.Sub(h.StageSince); h.Stage != "" && d > limit {
		return true, fmt.Sprintf("the pipeline has been %s for %s (since %s)", h.Stage, d.Round(time.Second), h.StageSince.UTC().Format(time.RFC3339))
	}
	if !h.Retrying || h.Failures < 2 && now.Sub(h.Since) < stuckAfter {
		return false, ""
	}
	return true, fmt.Sprintf("a batch has failed %d times since %s: %s", h.Failures, h.Since.UTC().Format(time.RFC3339), h.LastError)
}

// stuckAfter is how long a batch may be retried before Stuck says so
// whatever its count of failures (an attempt that isolated a poison record
// is retried at once and counts no failure).
const stuckAfter = 10 * time.Second
