package gateway

// Fetch (key 1), Outbound only, v4–18 (within the backend's range).
//
// Request: topics named (v4–12) are mapped into the project's outbound
// namespace; topics named by id (v13+) pass only when the id is one of the
// project's own topics, else they are answered UNKNOWN_TOPIC_ID, as for a
// topic that does not exist. Fetch sessions are disabled (every fetch is
// forwarded as a full fetch without a session, and answered with session
// id 0, which tells the client there is none): the broker binds sessions to
// nothing but their id, so forwarding them would let one project replay
// another's (docs/protocol.md §6). The isolation level is forced to
// read_committed and aborted transactions are filtered out here
// (txnbatches.go). Replica fields are forced to a consumer's, and the
// preferred read replica cleared, so every fetch goes to the leader
// through the gateway.
//
// Response: spliced from the backend's bytes, not decoded and re-encoded
// (kafkaproto.Splicer.Fetch, docs/protocol.md §9): client names back (a
// topic never asked for, by name or id, is never shown), aborted and
// control batches emptied, the session id 0, broker endpoints (v16+)
// rewritten, the record batches referenced where they lie in the
// backend's answer.

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/tenancy"
)

func (g *Gateway) fetch(ctx context.Context, st *connState, req *kmsg.FetchRequest, frame []byte) (kafkaproto.Pending, error) {
	pid := st.p.pid
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.Version >= 7 && (req.SessionID != 0 || req.SessionEpoch > 0) {
		// An incremental fetch in a session the gateway never issued; the
		// client answers with a full fetch.
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return answered(resp), nil
	}
	fwd := *req
	fwd.SessionID, fwd.SessionEpoch, fwd.ForgottenTopics = 0, -1, nil
	fwd.IsolationLevel = 1
	fwd.ReplicaID = -1
	if req.Version >= 15 {
		// A tagged field before v15: kmsg would write it, and Kafka
		// refuses the request.
		fwd.ReplicaState = kmsg.NewFetchRequestReplicaState()
	}
	fwd.ClusterID = nil
	fwd.Rack = ""
	fwd.Topics = nil
	names := map[string]string{} // backend → client (v4–12)
	ids := map[[16]byte]bool{}   // v13+
	for _, t := range req.Topics {
		if req.Version >= 13 {
			if _, ok := g.ownTopicByID(ctx, pid, t.TopicID); !ok {
				g.cfg.Metrics.refused(g.cfg.Role, pid, "unknown_topic_id")
				resp.Topics = append(resp.Topics, fetchTopicError(t, kerr.UnknownTopicID.Code))
				continue
			}
			ids[t.TopicID] = true
			fwd.Topics = append(fwd.Topics, t)
			continue
		}
		if tenancy.CheckOutboundTopic(t.Topic) != nil {
			g.cfg.Metrics.refused(g.cfg.Role, pid, "invalid_topic")
			resp.Topics = append(resp.Topics, fetchTopicError(t, kerr.InvalidTopicException.Code))
			continue
		}
		backend := tenancy.BackendOutboundTopic(pid, t.Topic)
		names[backend] = t.Topic
		t.Topic = backend
		fwd.Topics = append(fwd.Topics, t)
	}
	if len(fwd.Topics) == 0 {
		return answered(resp), nil
	}
	rw := &kafkaproto.FetchRewrite{Names: names, IDs: ids, Refused: resp.Topics, Records: committedEdits, Broker: g.endpoint}
	clientCorr := int32(binary.BigEndian.Uint32(frame[4:])) // after key and version
	if err := g.reachHome(ctx, st); err != nil {
		return nil, err
	}
	id := st.home
	u, err := g.upstream(ctx, st, id)
	if err != nil {
		return nil, err
	}
	corr, err := u.send(ctx, &fwd)
	if err != nil {
		g.dropUpstream(st, id, u)
		return nil, fmt.Errorf("forwarding Fetch to backend broker %d: %w", id, err)
	}
	return func() (kmsg.Response, error) {
		segs, counts, err := u.receiveFetch(ctx, &fwd, corr, clientCorr, rw)
		if err != nil {
			g.dropUpstream(st, id, u)
			return nil, fmt.Errorf("reading Fetch answer from backend broker %d: %w", id, err)
		}
		g.cfg.Metrics.consumed(pid, counts.Records, counts.Bytes)
		return &kafkaproto.Spliced{Response: resp, Segs: segs}, nil
	}, nil
}

func fetchTopicError(t kmsg.FetchRequestTopic, code int16) kmsg.FetchResponseTopic {
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	for _, p := range t.Partitions {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition, rp.ErrorCode = p.Partition, code
		rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	return rt
}

// ownTopicByID returns the client name of a topic id when the topic is one
// of the project's outbound topics.
func (g *Gateway) ownTopicByID(ctx context.Context, pid string, id [16]byte) (string, bool) {
	backend, ok := g.ids.name(ctx, id)
	if !ok {
		return "", false
	}
	return tenancy.ClientOutboundTopic(pid, backend)
}
