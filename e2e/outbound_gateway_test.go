package e2e

import (
	"testing"

	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
)

// TestOutboundSuitesRealKafka runs the Outbound listener's behaviour suites
// (own topics only, group isolation, a group of three, committed records
// only, topic id authorization, fetch sessions, refusals) with Apache Kafka
// behind the gateway, on one broker and on three.
func TestOutboundSuitesRealKafka(t *testing.T) {
	for _, brokers := range []int{1, 3} {
		t.Run(map[int]string{1: "1 broker", 3: "3 brokers"}[brokers], func(t *testing.T) {
			c := kafkaCluster(t, brokers, false)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("broker logs:\n%s", c.LogTail(40))
				}
			})
			e := gatewaytest.Start(t, c.Bootstrap)
			for name, suite := range gatewaytest.OutboundSuites {
				t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
			}
		})
	}
}
