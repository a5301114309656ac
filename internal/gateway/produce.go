package gateway

// Produce (key 0), Inbound only, advertised v0–12 (v0–2 are advertised for
// librdkafka's sake and refused when sent, as Kafka 4 does; v13 names
// topics by id only).
//
// Checked per topic and partition before anything is forwarded: the
// collection name (INVALID_TOPIC_EXCEPTION), a new collection past the
// project's limit (TOPIC_AUTHORIZATION_FAILED, its message naming the
// count), each batch's size against message.max.bytes (MESSAGE_TOO_LARGE),
// transactional or control batches and transactional requests
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), and then every batch as Apache
// Kafka's broker checks it (validate.go): malformed (CORRUPT_MESSAGE), or
// past the decompressed size limits (MESSAGE_TOO_LARGE). A refused
// partition forwards nothing; the rest is forwarded to the node the client
// chose as the client's own frame spliced (kafkaproto.Splicer.Produce): the
// topic names replaced, refused partitions left out, the record batches
// not copied. Names are mapped back, KIP-951 leader hints rewritten and
// backend names scrubbed from error texts. A project over its
// produce quota is throttled, never refused (waitQuota, chargeQuota).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/tenancy"
)

func (g *Gateway) produce(ctx context.Context, st *connState, req *kmsg.ProduceRequest, frame []byte) (kafkaproto.Pending, error) {
	pid := st.p.pid
	if req.Version < 3 {
		g.cfg.Metrics.refused(g.cfg.Role, pid, "produce_version")
		return nil, fmt.Errorf("produce v%d: Kafka 4 accepts only v3 and later", req.Version)
	}
	if req.TransactionID != nil {
		g.cfg.Metrics.refused(g.cfg.Role, pid, "transactional")
		resp, _ := Refuse(req, kerr.TransactionalIDAuthorizationFailed.Code, "Kafka transactions are not supported")
		return answered(ackOrNothing(req, resp)), nil
	}
	if err := g.waitQuota(ctx, pid); err != nil {
		return nil, err
	}
	keyID := g.autofillKeyID(st.p)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	routes := newRoutes(req)
	names := map[string]string{}
	counts := map[string]map[int32]batchInfo{}
	for i, t := range req.Topics {
		rt := kmsg.ProduceResponseTopic{Topic: t.Topic}
		refuseAll := func(code int16, reason, msg string) {
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, producePartitionError(p.Partition, code, msg))
			}
			g.cfg.Metrics.refused(g.cfg.Role, pid, reason)
		}
		if err := tenancy.CheckCollectionTopic(t.Topic); err != nil {
			refuseAll(kerr.InvalidTopicException.Code, "invalid_topic", err.Error())
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		raw := tenancy.RawTopic(pid, keyID, t.Topic)
		if err := g.topics.Admit(ctx, raw); err != nil {
			var limit *backend.CollectionLimitError
			if errors.As(err, &limit) {
				refuseAll(kerr.TopicAuthorizationFailed.Code, "collection_limit", err.Error())
				resp.Topics = append(resp.Topics, rt)
				continue
			}
			// The backend still refuses a topic that does not exist.
			g.log.Warn("counting a project's collections", "project", pid, "err", err)
		}
		routes[i].Topic = raw
		kept := false
		for j, p := range t.Partitions {
			info, err := inspectBatches(p.Records)
			var code int16
			var reason, msg string
			switch {
			case errors.Is(err, errOldFormat):
				code, reason, msg = kerr.InvalidRecord.Code, "old_message_format", err.Error()
			case err != nil:
				code, reason, msg = kerr.CorruptMessage.Code, "corrupt_batch", err.Error()
			case info.transactional:
				code, reason, msg = kerr.TransactionalIDAuthorizationFailed.Code, "transactional", "Kafka transactions are not supported"
			case info.largest > limits.MaxMessageBytes:
				code, reason = kerr.MessageTooLarge.Code, "message_too_large"
				msg = fmt.Sprintf("a record batch of %d bytes is larger than message.max.bytes = %d", info.largest, limits.MaxMessageBytes)
			default:
				err = g.valid.validateBatches(p.Records)
				switch {
				case errors.Is(err, errTooLarge):
					code, reason, msg = kerr.MessageTooLarge.Code, "decompressed_too_large", err.Error()
				case err != nil:
					code, reason, msg = kerr.CorruptMessage.Code, "corrupt_batch", err.Error()
				}
			}
			if code != 0 {
				rt.Partitions = append(rt.Partitions, producePartitionError(p.Partition, code, msg))
				g.cfg.Metrics.refused(g.cfg.Role, pid, reason)
				continue
			}
			routes[i].Keep[j], kept = true, true
			if counts[raw] == nil {
				counts[raw] = map[int32]batchInfo{}
			}
			counts[raw][p.Partition] = info
		}
		if kept {
			names[raw] = t.Topic
		}
		if len(rt.Partitions) > 0 {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if len(names) == 0 {
		return answered(ackOrNothing(req, resp)), nil
	}
	throttle := g.chargeQuota(pid, counts)
	if req.Acks == 0 {
		// The backend answers nothing either: send, and owe nothing.
		if err := g.reachHome(ctx, st); err != nil {
			return nil, err
		}
		u, err := g.upstream(ctx, st, st.home)
		if err != nil {
			return nil, err
		}
		if _, err := g.sendProduce(ctx, u, frame, routes); err != nil {
			g.dropUpstream(st, st.home, u)
			return nil, fmt.Errorf("forwarding Produce to backend broker %d: %w", st.home, err)
		}
		g.countProduced(pid, counts, nil)
		return answered(nil), nil
	}
	if err := g.reachHome(ctx, st); err != nil {
		return nil, err
	}
	// The backend's answer is read as the answer to req: same version,
	// same timeout.
	wait, err := g.startWith(ctx, st, st.home, req, func(u *upstream) (int32, error) {
		return g.sendProduce(ctx, u, frame, routes)
	})
	if err != nil {
		return nil, err
	}
	return func() (kmsg.Response, error) {
		r, err := wait()
		if err != nil {
			return nil, err
		}
		out := g.mapProduce(r.(*kmsg.ProduceResponse), resp, names, counts, pid).(*kmsg.ProduceResponse)
		out.ThrottleMillis = max(out.ThrottleMillis, int32(throttle/time.Millisecond))
		return out, nil
	}, nil
}

// newRoutes is one route per topic of req, each partition refused until
// it is checked.
func newRoutes(req *kmsg.ProduceRequest) []kafkaproto.ProduceRoute {
	n := 0
	for _, t := range req.Topics {
		n += len(t.Partitions)
	}
	keep := make([]bool, n)
	routes := make([]kafkaproto.ProduceRoute, len(req.Topics))
	for i, t := range req.Topics {
		routes[i].Keep, keep = keep[:len(t.Partitions):len(t.Partitions)], keep[len(t.Partitions):]
	}
	return routes
}

// sendProduce forwards the client's Produce frame to u, spliced by routes.
func (g *Gateway) sendProduce(ctx context.Context, u *upstream, frame []byte, routes []kafkaproto.ProduceRoute) (int32, error) {
	sp, _ := g.splicers.Get().(*kafkaproto.Splicer)
	if sp == nil {
		sp = new(kafkaproto.Splicer)
	}
	defer g.splicers.Put(sp)
	return u.sendProduce(ctx, sp, frame, routes)
}

// waitQuota holds a Produce of a project that is over its quota until its
// debt is repaid. A client that honours throttle_time_ms never waits here;
// one that does not is slowed all the same, the way a broker mutes the
// channel of a throttled client (KIP-219): the connection's next request
// is not read meanwhile.
func (g *Gateway) waitQuota(ctx context.Context, pid string) error {
	wait := g.cfg.ProduceQuota.Throttled(pid, time.Now())
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// chargeQuota counts the batches about to be forwarded against the
// project's quota and returns the throttle time its answer carries.
func (g *Gateway) chargeQuota(pid string, counts map[string]map[int32]batchInfo) time.Duration {
	bytes := 0
	for _, parts := range counts {
		for _, info := range parts {
			bytes += info.bytes
		}
	}
	throttle := g.cfg.ProduceQuota.Charge(pid, bytes, time.Now())
	g.cfg.Metrics.throttle(pid, throttle)
	return throttle
}

// mapProduce merges the backend's answer into resp (which already holds
// the partitions the gateway refused): client names, scrubbed error texts,
// this role's addresses in KIP-951 hints.
func (g *Gateway) mapProduce(up, resp *kmsg.ProduceResponse, names map[string]string, counts map[string]map[int32]batchInfo, pid string) kmsg.Response {
	g.countProduced(pid, counts, up)
	for _, t := range up.Topics {
		client, ok := names[t.Topic]
		if !ok {
			continue // the backend never answers for a topic it was not asked about
		}
		for i := range t.Partitions {
			scrubPartition(&t.Partitions[i], t.Topic, client)
		}
		t.Topic = client
		resp.Topics = append(resp.Topics, t)
	}
	resp.ThrottleMillis = up.ThrottleMillis
	for _, b := range up.Brokers {
		if host, port, ok := g.endpoint(b.NodeID); ok {
			b.Host, b.Port, b.Rack = host, port, nil
			resp.Brokers = append(resp.Brokers, b)
		}
	}
	return resp
}

// ackOrNothing returns resp unless the producer asked for no answer.
func ackOrNothing(req *kmsg.ProduceRequest, resp kmsg.Response) kmsg.Response {
	if req.Acks == 0 {
		return nil
	}
	return resp
}

func producePartitionError(partition int32, code int16, msg string) kmsg.ProduceResponseTopicPartition {
	p := kmsg.NewProduceResponseTopicPartition()
	p.Partition, p.ErrorCode, p.BaseOffset = partition, code, -1
	if msg != "" {
		p.ErrorMessage = &msg
	}
	return p
}

// scrubPartition replaces the backend topic name in the backend's error
// texts with the client's, so no backend name reaches a client.
func scrubPartition(p *kmsg.ProduceResponseTopicPartition, backendName, client string) {
	if p.ErrorMessage != nil {
		s := strings.ReplaceAll(*p.ErrorMessage, backendName, client)
		p.ErrorMessage = &s
	}
	for i := range p.ErrorRecords {
		if m := p.ErrorRecords[i].ErrorMessage; m != nil {
			s := strings.ReplaceAll(*m, backendName, client)
			p.ErrorRecords[i].ErrorMessage = &s
		}
	}
}

// countProduced adds the accepted records and bytes to the project's
// metrics (all forwarded ones for acks=0, which has no answer to check).
func (g *Gateway) countProduced(pid string, counts map[string]map[int32]batchInfo, resp *kmsg.ProduceResponse) {
	var records, bytes int
	if resp == nil {
		for _, parts := range counts {
			for _, info := range parts {
				records += info.records
				bytes += info.bytes
			}
		}
	} else {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if info, ok := counts[t.Topic][p.Partition]; ok && p.ErrorCode == 0 {
					records += info.records
					bytes += info.bytes
				}
			}
		}
	}
	g.cfg.Metrics.produced(pid, records, bytes)
}
