package pipeline

import (
	"context"
	"time"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// provisioner creates the outbound and DLQ topics of every collection of
// every project whose Kafka Outbound is enabled, so that a consumer can
// subscribe before the first event flows: when outbound is enabled (for
// the collections that exist, known from the backend's raw topics) and
// when a collection appears while it is enabled. The pipeline also ensures
// a topic before producing to it, which covers any gap here.
type provisioner struct {
	topics *backend.TopicCache
	reg    *registry.Registry
	// rawTopics lists the raw topics the pipeline's consumer has
	// discovered (its regex subscription follows the cluster's metadata).
	rawTopics func() []string
	wake      chan struct{}
	warn      func(msg string, args ...any)
}

// provisionEvery bounds how late a new collection's topics are created
// after its raw topic shows in the consumer's metadata.
const provisionEvery = time.Second

func (v *provisioner) run(ctx context.Context) {
	t := time.NewTicker(provisionEvery)
	defer t.Stop()
	for {
		v.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-v.wake:
		case <-t.C:
		}
	}
}

// changed is the registry hook: it must not block.
func (v *provisioner) changed() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func (v *provisioner) reconcile(ctx context.Context) {
	raws := map[string][]string{} // project → collections
	for _, t := range v.rawTopics() {
		if raw, ok := tenancy.ParseRawTopic(t); ok {
			raws[raw.ProjectID] = append(raws[raw.ProjectID], raw.Collection)
		}
	}
	if len(raws) == 0 {
		return
	}
	enabled := map[string]bool{}
	v.reg.Read(func(view *registry.View) {
		for pid := range raws {
			s, _ := view.Streams(pid)
			enabled[pid] = s.OutboundEnabled
		}
	})
	for pid, colls := range raws {
		if !enabled[pid] {
			continue
		}
		for _, c := range colls {
			stream, dlq := outboundTopics(pid, c)
			for _, topic := range []string{stream, dlq} {
				if err := v.topics.Ensure(ctx, topic, OutboundPartitions, outboundTopicConfigs); err != nil && ctx.Err() == nil {
					v.warn("creating an outbound topic; will retry", "project", pid, "err", err)
				}
			}
		}
	}
}
