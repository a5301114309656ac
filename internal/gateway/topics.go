package gateway

import (
	"context"
	"strconv"
)

// Settings of the raw topics sluice creates for collections (the seeds'
// figures): 9 partitions, RF min(3, brokers), message.max.bytes 1048588.
// sluice creates topics itself, never through broker auto-creation.
const topicPartitions = 9

var rawTopicConfigs = map[string]*string{"max.message.bytes": ptr(strconv.Itoa(MaxMessageBytes))}

func ptr(s string) *string { return &s }

// ensureRawTopic creates a collection's raw topic unless it is known.
func (g *Gateway) ensureRawTopic(ctx context.Context, topic string) error {
	return g.topics.Ensure(ctx, topic, topicPartitions, rawTopicConfigs)
}
