package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/internal/store"
)

// Metrics are the pipeline's Prometheus series, per project.
type Metrics struct {
	storedC     *prometheus.CounterVec
	duplicatesC *prometheus.CounterVec
	invalidC    *prometheus.CounterVec
	dlqC        *prometheus.CounterVec
}

// NewMetrics registers the pipeline's series with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		storedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_events_stored_total", Help: "Events stored, per project (re-processed ones not counted twice).",
		}, []string{"project"}),
		duplicatesC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_duplicates_dropped_total", Help: "Events dropped because another event holds their keen.uniqueness_token, per project.",
		}, []string{"project"}),
		invalidC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_invalid_events_total", Help: "Invalid events, per project and Keen error name.",
		}, []string{"project", "error"}),
		dlqC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_dlq_records_total", Help: "Invalid events written to a DLQ (result=written) or not, because Kafka Outbound is disabled (result=skipped).",
		}, []string{"project", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.storedC, m.duplicatesC, m.invalidC, m.dlqC)
	}
	return m
}

func (m *Metrics) stored(project string, r store.InsertResult) {
	if m != nil {
		m.storedC.WithLabelValues(project).Add(float64(r.Inserted))
		m.duplicatesC.WithLabelValues(project).Add(float64(r.Duplicates))
	}
}

func (m *Metrics) invalid(project, name string) {
	if m != nil {
		m.invalidC.WithLabelValues(project, name).Inc()
	}
}

func (m *Metrics) dlqSkipped(project string) {
	if m != nil {
		m.dlqC.WithLabelValues(project, "skipped").Inc()
	}
}

func (m *Metrics) dlqWritten(project string, n int) {
	if m != nil {
		m.dlqC.WithLabelValues(project, "written").Add(float64(n))
	}
}
