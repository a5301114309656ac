package e2e

import (
	"testing"

	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
)

// TestInboundSuitesRealKafka runs the Inbound listener's behaviour suites
// (franz-go producers, authentication, revocation, every refusal sent raw,
// metadata isolation) with Apache Kafka behind the gateway: one broker, and
// three so that partition leaders differ and every address is rewritten.
func TestInboundSuitesRealKafka(t *testing.T) {
	for _, brokers := range []int{1, 3} {
		t.Run(map[int]string{1: "1 broker", 3: "3 brokers"}[brokers], func(t *testing.T) {
			e := gatewaytest.Start(t, kafkaCluster(t, brokers, false).Bootstrap)
			for name, suite := range gatewaytest.InboundSuites {
				t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
			}
		})
	}
}

// TestProduceQuotaRealKafka runs the produce quota's suite with Apache Kafka
// behind the gateway.
func TestProduceQuotaRealKafka(t *testing.T) {
	gatewaytest.ProduceQuota(t, kafkaCluster(t, 1, false).Bootstrap)
}
