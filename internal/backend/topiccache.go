package backend

import (
	"context"
	"sync"
)

// TopicCache remembers which backend topics exist, so that only the first
// use of a topic costs a CreateTopics round trip.
type TopicCache struct {
	b     *Backend
	mu    sync.Mutex
	known map[string]bool
}

// NewTopicCache returns an empty cache over b.
func (b *Backend) NewTopicCache() *TopicCache {
	return &TopicCache{b: b, known: map[string]bool{}}
}

// Mark records that topic exists (seen in metadata, say).
func (c *TopicCache) Mark(topic string) {
	c.mu.Lock()
	c.known[topic] = true
	c.mu.Unlock()
}

// Ensure creates topic with the given settings unless it is known to exist.
func (c *TopicCache) Ensure(ctx context.Context, topic string, partitions int32, configs map[string]*string) error {
	c.mu.Lock()
	known := c.known[topic]
	c.mu.Unlock()
	if known {
		return nil
	}
	if err := c.b.EnsureTopic(ctx, topic, partitions, configs); err != nil {
		return err
	}
	c.Mark(topic)
	return nil
}
