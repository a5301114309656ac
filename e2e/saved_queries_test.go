package e2e

import (
	"testing"

	"github.com/sluice-io/sluice/internal/registry/registrytest"
	"github.com/sluice-io/sluice/internal/saved/savedtest"
)

// TestSavedQueriesRealKafka runs the saved-query registry suite and the
// cached-query schedule's exactly-once suite (three processes, a leave, a
// crash) on Apache Kafka.
func TestSavedQueriesRealKafka(t *testing.T) {
	brokers := kafkaCluster(t, 1, false).Bootstrap
	t.Run("registry", func(t *testing.T) { registrytest.SavedQueries(t, brokers) })
	t.Run("schedule exactly once", func(t *testing.T) { savedtest.ExactlyOnce(t, brokers) })
}
