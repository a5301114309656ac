package kafkaproto

import (
	"net"
	"sync"
	"time"
)

// Failed authentications are remembered per remote address for
// failureMemory after the last one, for at most maxFailureAddrs addresses:
// past that, a new address gets the base delay (a flood from many
// addresses is bounded by MaxConns and the authentication timeout instead).
const (
	failureMemory   = time.Minute
	maxFailureAddrs = 16384
)

// failureDelay is how long a failed authentication waits before it is
// answered, given the failures from the same address in the last
// failureMemory before it: base, doubled per recent failure, at most
// ceiling (or base if that is more).
func failureDelay(base, ceiling time.Duration, recent int) time.Duration {
	if base <= 0 {
		return 0
	}
	ceiling = max(base, ceiling)
	d := base
	for range recent {
		if d >= ceiling {
			break
		}
		d *= 2
	}
	return min(d, ceiling)
}

type failures struct {
	n    int
	last time.Time
}

// failureLog counts recent failed authentications per remote address.
type failureLog struct {
	mu sync.Mutex
	m  map[string]*failures
}

// add records a failure from addr at now and returns how many came before
// it within failureMemory.
func (l *failureLog) add(addr net.Addr, now time.Time) int {
	host := hostOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.m[host]
	if !ok {
		if len(l.m) >= maxFailureAddrs {
			return 0
		}
		f = &failures{}
		l.m[host] = f
	}
	if now.Sub(f.last) > failureMemory {
		f.n = 0
	}
	recent := f.n
	f.n++
	f.last = now
	return recent
}

// forget drops addresses whose last failure is older than failureMemory.
func (l *failureLog) forget(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for host, f := range l.m {
		if now.Sub(f.last) > failureMemory {
			delete(l.m, host)
		}
	}
}

// hostOf is the address without its port: a guesser opens a new connection,
// and so a new port, for every attempt.
func hostOf(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
