package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/internal/store"
)

// Metrics are the pipeline's Prometheus series, per project.
type Metrics struct {
	storedC       *prometheus.CounterVec
	duplicatesC   *prometheus.CounterVec
	invalidC      *prometheus.CounterVec
	dlqC          *prometheus.CounterVec
	outRecordsC   *prometheus.CounterVec
	outBytesC     *prometheus.CounterVec
	outSkippedC   *prometheus.CounterVec
	dlqDroppedC   *prometheus.CounterVec
	transactionsC *prometheus.CounterVec
	unreadableC   *prometheus.CounterVec
	unreadableRC  *prometheus.CounterVec
	batchH        *prometheus.HistogramVec
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
		outRecordsC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_outbound_records_total", Help: "Enriched events published (committed) to Kafka Outbound topics, per project.",
		}, []string{"project"}),
		outBytesC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_outbound_bytes_total", Help: "Key, value and header bytes of the records counted by sluice_pipeline_outbound_records_total.",
		}, []string{"project"}),
		outSkippedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_outbound_skipped_total", Help: "Stored events not published to a Kafka Outbound topic, per project and reason (too_large: over max.message.bytes once enriched; otherwise the backend's error, e.g. message_too_large).",
		}, []string{"project", "reason"}),
		dlqDroppedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_dlq_dropped_total", Help: "DLQ records the backend refused, dropped, per project and reason (the backend's error, e.g. topic_authorization_failed).",
		}, []string{"project", "reason"}),
		transactionsC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_transactions_total", Help: "Pipeline transactions by result: committed, aborted (processed again) or failed (transactional client restarted).",
		}, []string{"result"}),
		unreadableC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_unreadable_batches_total", Help: "Raw batches the pipeline could not read (corrupt, or decompressing past its bound), skipped with a dead letter, per project and reason.",
		}, []string{"project", "reason"}),
		unreadableRC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_pipeline_unreadable_offsets_total", Help: "Raw offsets skipped with the batches counted by sluice_pipeline_unreadable_batches_total, per project.",
		}, []string{"project"}),
		// An event waits for the batch in progress, then for its own: these
		// steps are what it is countable and streamed after.
		batchH: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_pipeline_batch_seconds", Help: "Time committed batches spent per step: validating (and enriching), storing, publishing (producing into the transaction), committing (the Kafka transaction).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"step"}),
	}
	if reg != nil {
		reg.MustRegister(m.storedC, m.duplicatesC, m.invalidC, m.dlqC, m.outRecordsC, m.outBytesC, m.outSkippedC, m.dlqDroppedC, m.transactionsC, m.unreadableC, m.unreadableRC, m.batchH)
	}
	return m
}

func (m *Metrics) stored(project string, r store.InsertResult) {
	if m != nil {
		m.storedC.WithLabelValues(project).Add(float64(r.Count(store.Stored)))
		m.duplicatesC.WithLabelValues(project).Add(float64(r.Count(store.Duplicate)))
	}
}

func (m *Metrics) invalid(project, name string, n int) {
	if m != nil {
		m.invalidC.WithLabelValues(project, name).Add(float64(n))
	}
}

func (m *Metrics) dlqSkipped(project string, n int) {
	if m != nil && n > 0 {
		m.dlqC.WithLabelValues(project, "skipped").Add(float64(n))
	}
}

func (m *Metrics) dlqWritten(project string, n int) {
	if m != nil && n > 0 {
		m.dlqC.WithLabelValues(project, "written").Add(float64(n))
	}
}

func (m *Metrics) outbound(project string, records, bytes int) {
	if m != nil {
		m.outRecordsC.WithLabelValues(project).Add(float64(records))
		m.outBytesC.WithLabelValues(project).Add(float64(bytes))
	}
}

func (m *Metrics) outboundSkipped(project, reason string, n int) {
	if m != nil && n > 0 {
		m.outSkippedC.WithLabelValues(project, reason).Add(float64(n))
	}
}

func (m *Metrics) dlqDropped(project, reason string, n int) {
	if m != nil && n > 0 {
		m.dlqDroppedC.WithLabelValues(project, reason).Add(float64(n))
	}
}

// batch records the steps of a committed batch.
func (m *Metrics) batch(st stages) {
	if m != nil {
		m.batchH.WithLabelValues("validating").Observe(st.validate.Seconds())
		m.batchH.WithLabelValues("storing").Observe(st.store.Seconds())
		m.batchH.WithLabelValues("publishing").Observe(st.produce.Seconds())
		m.batchH.WithLabelValues("committing").Observe(st.commit.Seconds())
	}
}

func (m *Metrics) transaction(result string) {
	if m != nil {
		m.transactionsC.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) unreadable(project, reason string, offsets int) {
	if m != nil {
		m.unreadableC.WithLabelValues(project, reason).Inc()
		m.unreadableRC.WithLabelValues(project).Add(float64(offsets))
	}
}
