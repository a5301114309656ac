package backend

import (
	"context"
	"fmt"
)

// TopicIDs lists every backend topic by id, for authorizing requests that
// name topics by id.
func (b *Backend) TopicIDs(ctx context.Context) (map[[16]byte]string, error) {
	topics, err := b.admin.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing backend topics: %w", err)
	}
	out := make(map[[16]byte]string, len(topics))
	for name, t := range topics {
		out[t.ID] = name
	}
	return out, nil
}
