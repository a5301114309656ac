package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// LagCollector reports the consumer lag of every project's groups on the
// Outbound listener, per project, group and topic, as the Prometheus series
// sluice_kafka_consumer_lag: records between a group's committed offset and
// the end of each partition (transaction markers count as offsets, so it
// may read a little high). It asks the backend on scrape, at most once per
// lagEvery; a scrape in between gets the last figures.
type LagCollector struct {
	adm  *kadm.Client
	log  *slog.Logger
	desc *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	samples []lagSample
}

type lagSample struct {
	project, group, topic string
	lag                   int64
}

const lagEvery = 10 * time.Second

// NewLagCollector returns the collector; register it with the metrics registry.
func NewLagCollector(adm *kadm.Client, log *slog.Logger) *LagCollector {
	return &LagCollector{adm: adm, log: log, desc: prometheus.NewDesc("sluice_kafka_consumer_lag",
		"Records behind the end of the outbound topic, per project, consumer group and topic (Kafka Outbound).",
		[]string{"project", "group", "topic"}, nil)}
}

func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) >= lagEvery {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		samples, err := c.measure(ctx)
		cancel()
		if err != nil {
			c.log.Warn("measuring consumer lag", "err", err)
		} else {
			c.samples, c.at = samples, time.Now()
		}
	}
	for _, s := range c.samples {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.lag), s.project, s.group, s.topic)
	}
}

func (c *LagCollector) measure(ctx context.Context) ([]lagSample, error) {
	listed, err := c.adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, g := range listed.Groups() {
		if _, _, ok := tenancy.ParseBackendGroup(g); ok {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	lags, err := c.adm.Lag(ctx, groups...)
	if err != nil {
		return nil, err
	}
	var out []lagSample
	for _, l := range lags {
		pid, group, _ := tenancy.ParseBackendGroup(l.Group)
		if l.Error() != nil {
			continue
		}
		for backend, t := range l.Lag.TotalByTopic() {
			topic, ok := tenancy.ClientOutboundTopic(pid, backend)
			if !ok {
				continue
			}
			out = append(out, lagSample{project: pid, group: group, topic: topic, lag: t.Lag})
		}
	}
	return out, nil
}
