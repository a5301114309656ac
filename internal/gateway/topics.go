package gateway

import (
	"context"
	"strconv"
	"sync"

	"github.com/sluice-io/sluice/internal/backend"
)

// Settings of every topic sluice creates for clients (the seeds' figures).
const (
	topicPartitions = 9
)

// topicCache remembers which backend topics exist, so that only the first
// use of a collection costs a CreateTopics round trip.
type topicCache struct {
	b     *backend.Backend
	mu    sync.Mutex
	known map[string]bool
}

func newTopicCache(b *backend.Backend) *topicCache {
	return &topicCache{b: b, known: map[string]bool{}}
}

func (c *topicCache) has(topic string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known[topic]
}

func (c *topicCache) mark(topic string) {
	c.mu.Lock()
	c.known[topic] = true
	c.mu.Unlock()
}

// ensure creates a raw topic unless it is known to exist. sluice creates
// topics itself, never through broker auto-creation, so their settings are
// sluice's: 9 partitions, RF min(3, brokers), message.max.bytes 1048588.
func (c *topicCache) ensure(ctx context.Context, topic string) error {
	if c.has(topic) {
		return nil
	}
	maxBytes := strconv.Itoa(MaxMessageBytes)
	if err := c.b.EnsureTopic(ctx, topic, topicPartitions, map[string]*string{"max.message.bytes": &maxBytes}); err != nil {
		return err
	}
	c.mark(topic)
	return nil
}
