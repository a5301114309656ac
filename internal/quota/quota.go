// Package quota bounds the byte rate of each project the way Kafka's broker
// quotas do: a project may send at its rate with a burst on top; beyond
// that it is not refused but slowed down, by a throttle time that the
// Kafka listener reports in its answer (throttle_time_ms, which clients
// honour by waiting, KIP-219) and enforces by answering that much later,
// and that the HTTP API turns into a 429 with Retry-After.
package quota

import (
	"sync"
	"time"
)

// Limiter is a token bucket per key (a project id). Safe for concurrent use.
type Limiter struct {
	rate     float64 // bytes per second
	burst    float64 // bytes a full bucket holds
	maxDebt  float64 // bytes a bucket may owe: bounds a throttle
	mu       sync.Mutex
	buckets  map[string]*bucket
	lastTidy time.Time
}

type bucket struct {
	tokens float64 // negative: bytes owed
	at     time.Time
}

// MaxThrottle bounds one throttle time: a client that sent one huge burst
// is slowed for at most this long per request, as Kafka bounds its own
// throttles by its quota window.
const MaxThrottle = 10 * time.Second

// New returns a limiter of bytesPerSecond per key, with a burst of
// burst's worth of the rate on top. A rate of 0 or less limits nothing.
func New(bytesPerSecond int64, burst time.Duration) *Limiter {
	r := float64(bytesPerSecond)
	return &Limiter{rate: r, burst: r * burst.Seconds(), maxDebt: r * MaxThrottle.Seconds(), buckets: map[string]*bucket{}}
}

// Charge counts n bytes sent by key at now and returns how long key should
// wait before it sends again: zero while it stays within its rate and
// burst. The bytes are always counted: what was sent has been accepted.
func (l *Limiter) Charge(key string, n int, now time.Time) time.Duration {
	if l == nil || l.rate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tidy(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	b.tokens = max(b.tokens-float64(n), -l.maxDebt)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / l.rate * float64(time.Second))
}

// Throttled says how long key still has to wait at now, without charging.
func (l *Limiter) Throttled(key string, now time.Time) time.Duration {
	if l == nil || l.rate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return 0
	}
	l.refill(b, now)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / l.rate * float64(time.Second))
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
		b.at = now
	}
}

// tidy forgets, once a minute, the buckets that have refilled: a key that
// sends again starts from a full bucket, which is what it would have.
func (l *Limiter) tidy(now time.Time) {
	if now.Sub(l.lastTidy) < time.Minute {
		return
	}
	l.lastTidy = now
	for k, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
