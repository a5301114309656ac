package gateway

import (
	"context"
	"sync"
	"time"
)

// topicIDs maps backend topic ids to backend topic names, so requests that
// name topics by id (Fetch v13+) can be authorized: an id is not a secret,
// and only an id whose topic belongs to the client's project may pass
// (docs/protocol.md §5). It learns from every Metadata answer the gateway
// forwards and, on a miss, from the backend directly (at most once per
// refreshEvery, so unknown ids cannot make the gateway hammer the backend).
type topicIDs struct {
	list func(ctx context.Context) (map[[16]byte]string, error)

	mu        sync.Mutex
	names     map[[16]byte]string
	refreshed time.Time
}

const refreshEvery = time.Second

func newTopicIDs(list func(ctx context.Context) (map[[16]byte]string, error)) *topicIDs {
	return &topicIDs{list: list, names: map[[16]byte]string{}}
}

func (t *topicIDs) learn(id [16]byte, name string) {
	if id == ([16]byte{}) {
		return
	}
	t.mu.Lock()
	t.names[id] = name
	t.mu.Unlock()
}

// name returns the backend name of id, asking the backend when it is not
// known yet.
func (t *topicIDs) name(ctx context.Context, id [16]byte) (string, bool) {
	t.mu.Lock()
	n, ok := t.names[id]
	stale := time.Since(t.refreshed) >= refreshEvery
	if !ok && stale {
		t.refreshed = time.Now()
	}
	t.mu.Unlock()
	if ok || !stale || id == ([16]byte{}) {
		return n, ok
	}
	all, err := t.list(ctx)
	if err != nil {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range all {
		t.names[k] = v
	}
	n, ok = t.names[id]
	return n, ok
}
