package gateway

import (
	"context"
)

// ensureRawTopic creates a collection's raw topic unless it is known, with
// the settings of every raw topic (backend.RawTopics), or returns a
// *backend.CollectionLimitError for a new collection past the project's
// limit. sluice creates topics itself, never through broker auto-creation.
func (g *Gateway) ensureRawTopic(ctx context.Context, topic string) error {
	return g.topics.Ensure(ctx, topic)
}
