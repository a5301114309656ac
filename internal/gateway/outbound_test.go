package gateway_test

import (
	"testing"

	"github.com/sluice-io/sluice/internal/gateway/gatewaytest"
)

func TestOutboundSuitesEmbedded(t *testing.T) {
	e := embeddedEnv(t)
	for name, suite := range gatewaytest.OutboundSuites {
		t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
	}
}

func TestOutboundSuitesThreeBrokers(t *testing.T) {
	e, _ := threeBrokerEnv(t)
	for name, suite := range gatewaytest.OutboundSuites {
		t.Run(name, func(t *testing.T) { suite(t, e.With(t)) })
	}
}
