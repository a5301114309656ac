package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/internal/kafkaproto"
)

// Metrics are the gateway's Prometheus series, per listener and project.
type Metrics struct {
	connections  *prometheus.GaugeVec
	recordsIn    *prometheus.CounterVec
	bytesIn      *prometheus.CounterVec
	recordsOut   *prometheus.CounterVec
	bytesOut     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	refusals     *prometheus.CounterVec
	throttled    *prometheus.CounterVec
}

// NewMetrics registers the gateway's series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_kafka_connections", Help: "Open client connections per Kafka listener.",
		}, []string{"listener"}),
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kafka_records_in_total", Help: "Records accepted by the Kafka Inbound listener, per project.",
		}, []string{"project"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kafka_bytes_in_total", Help: "Record batch bytes accepted by the Kafka Inbound listener, per project.",
		}, []string{"project"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kafka_records_out_total", Help: "Records delivered by the Kafka Outbound listener, per project.",
		}, []string{"project"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kafka_bytes_out_total", Help: "Record batch bytes delivered by the Kafka Outbound listener, per project.",
		}, []string{"project"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kafka_auth_failures_total", Help: "Failed SASL authentications per listener and project (\"unknown\" when the username is no project).",
		}, []string{"listener", "project"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kafka_refusals_total", Help: "Refused requests and connections per listener, project (empty before authentication) and reason.",
		}, []string{"listener", "project", "reason"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_kafka_throttle_seconds_total", Help: "Throttle time given to producers over their project's produce quota, per project.",
		}, []string{"project"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.recordsIn, m.bytesIn, m.recordsOut, m.bytesOut, m.authFailures, m.refusals, m.throttled)
	}
	return m
}

func (m *Metrics) authFailed(role Role, project string) {
	if m != nil {
		m.authFailures.WithLabelValues(role.String(), project).Inc()
	}
}

func (m *Metrics) refused(role Role, project, reason string) {
	if m != nil {
		m.refusals.WithLabelValues(role.String(), project, reason).Inc()
	}
}

func (m *Metrics) produced(project string, records, bytes int) {
	if m != nil {
		m.recordsIn.WithLabelValues(project).Add(float64(records))
		m.bytesIn.WithLabelValues(project).Add(float64(bytes))
	}
}

func (m *Metrics) throttle(project string, d time.Duration) {
	if m != nil && d > 0 {
		m.throttled.WithLabelValues(project).Add(d.Seconds())
	}
}

func (m *Metrics) consumed(project string, records, bytes int) {
	if m != nil && (records > 0 || bytes > 0) {
		m.recordsOut.WithLabelValues(project).Add(float64(records))
		m.bytesOut.WithLabelValues(project).Add(float64(bytes))
	}
}

// observer adapts the metrics to the protocol server's connection events.
func (m *Metrics) observer(role Role) kafkaproto.Observer {
	if m == nil {
		return kafkaproto.NopObserver{}
	}
	return observer{m: m, role: role}
}

type observer struct {
	kafkaproto.NopObserver
	m    *Metrics
	role Role
}

func (o observer) ConnOpened() { o.m.connections.WithLabelValues(o.role.String()).Inc() }
func (o observer) ConnClosed() { o.m.connections.WithLabelValues(o.role.String()).Dec() }
func (o observer) Refused(r kafkaproto.Refusal) {
	o.m.refusals.WithLabelValues(o.role.String(), "", string(r)).Inc()
}
func (o observer) UserRefused(project string, r kafkaproto.Refusal) {
	o.m.refusals.WithLabelValues(o.role.String(), project, string(r)).Inc()
}
