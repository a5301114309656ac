package pipeline

import (
	"errors"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/store"
)

// pos is a raw record's position: what the poison memory knows a record by
// (its keen.id is a function of it).
type pos struct {
	topic     string
	partition int32
	offset    int64
}

func sourcePos(s store.Source) pos { return pos{s.Topic, s.Partition, s.Offset} }

// verdict is what the pipeline learned about one raw record from a failed
// attempt of its batch, and gives it when the batch is processed again.
type verdict struct {
	// refused: the store refused or failed on the event; it is not
	// inserted again, and becomes a dead letter with this error.
	refused *event.Error
	// skipStream: the event's outbound record was refused by the backend
	// for this reason; the event stays stored, not streamed.
	skipStream string
	// dropDLQ: the record's DLQ record was refused for this reason; it is
	// dropped.
	dropDLQ string
	// alone: the record was in a produce that failed with an error that
	// may be its own or a neighbour's; it is produced on its own, so a
	// failure names it.
	alone bool
}

// poisonMemory holds the verdicts of the batch in hand (and of batches
// whose partitions moved away before they committed). A committed batch's
// verdicts are forgotten, and at most max are kept, oldest out first. It
// is used by the pipeline's loop only.
type poisonMemory struct {
	max     int
	m       map[pos]*verdict
	order   []pos // insertion order; may hold positions already forgotten
	evicted int   // verdicts dropped to stay within max
}

func newPoisonMemory(max int) *poisonMemory {
	return &poisonMemory{max: max, m: map[pos]*verdict{}}
}

// get returns the verdict on p (nil: none).
func (pm *poisonMemory) get(p pos) *verdict { return pm.m[p] }

// note returns p's verdict for the caller to fill in, creating it.
func (pm *poisonMemory) note(p pos) *verdict {
	if v := pm.m[p]; v != nil {
		return v
	}
	v := &verdict{}
	pm.m[p] = v
	pm.order = append(pm.order, p)
	for len(pm.m) > pm.max {
		old := pm.order[0]
		pm.order = pm.order[1:]
		if _, ok := pm.m[old]; ok {
			delete(pm.m, old)
			pm.evicted++
		}
	}
	if len(pm.order) > 2*pm.max+64 {
		pm.compact()
	}
	return v
}

// forget drops the verdicts on records below next[topic][partition]: their
// batch committed, and they are not processed again.
func (pm *poisonMemory) forget(next map[string]map[int32]int64) {
	if len(pm.m) == 0 {
		return
	}
	for p := range pm.m {
		if n, ok := next[p.topic][p.partition]; ok && p.offset < n {
			delete(pm.m, p)
		}
	}
	pm.compact()
}

func (pm *poisonMemory) compact() {
	kept := pm.order[:0]
	for _, p := range pm.order {
		if _, ok := pm.m[p]; ok {
			kept = append(kept, p)
		}
	}
	clear(pm.order[len(kept):])
	pm.order = kept
}

func (pm *poisonMemory) len() int { return len(pm.m) }

// produceFault is how a produce error is handled.
type produceFault int

const (
	// transientFault: retried (broker unavailable, timeouts, rebalance,
	// fencing, coordinator moves, and anything not known to be
	// deterministic).
	transientFault produceFault = iota
	// recordFault: the backend refuses this record batch (too large,
	// invalid, corrupt); the record that failed alone is poison.
	recordFault
	// topicFault: the backend refuses every record of the topic
	// (authorization, policy, an invalid name); each is poison.
	topicFault
)

// classifyProduce classifies an error a produce callback reported.
func classifyProduce(err error) produceFault {
	switch {
	case errors.Is(err, kerr.MessageTooLarge),
		errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.CorruptMessage),
		errors.Is(err, kerr.InvalidTimestamp):
		return recordFault
	case errors.Is(err, kerr.InvalidTopicException),
		errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.PolicyViolation):
		return topicFault
	}
	return transientFault
}

// topicRefused says whether an error creating a topic is the backend's
// answer for that topic (not for the cluster or the moment): its records
// are then given their outcome instead of failing the batch.
func topicRefused(err error) bool {
	return errors.Is(err, kerr.InvalidTopicException) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.PolicyViolation) ||
		errors.Is(err, kerr.InvalidConfig)
}

// faultReason is the metric label for a refusal: the Kafka error's name in
// lower case (message_too_large), or "produce_error".
func faultReason(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return strings.ToLower(ke.Message)
	}
	return "produce_error"
}

// storeDown says whether a store error is about the store as a whole (its
// disk, its files): such an error is never blamed on an event, however
// the bisection comes out.
func storeDown(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"no space left", "disk quota", "read-only file system", "input/output error", "database is closed", "invalidated", "out of memory"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// ErrStore is the Keen-style error name of an event the store fails on
// (see docs/pipeline.md): it becomes a dead letter with the store's error.
const ErrStore = "StoreError"
