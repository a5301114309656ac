package gateway

// Metadata (key 3), both roles, v0–12 (capped: v13 adds a top-level error
// kfake lacks and nothing the gateway needs).
//
// Request: every named topic is checked and mapped into the project's
// namespace (Inbound: a valid new collection gets its raw topic created
// first, since a producer asks for metadata before it produces); topic ids
// in the request (v10+) are answered UNKNOWN_TOPIC_ID; auto-creation is
// forced off. Response: only the project's topics, under their client
// names; every broker address rewritten to this role's node endpoints; the
// cluster id replaced.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// clusterID is what clients see as the cluster id of a listener.
func (r Role) clusterID() string { return "sluice-" + r.String() }

func (g *Gateway) metadata(ctx context.Context, st *connState, req *kmsg.MetadataRequest) (kafkaproto.Pending, error) {
	pid := st.p.pid
	keyID := ""
	if g.cfg.Role == Inbound {
		keyID = g.autofillKeyID(st.p)
	}
	fwd := *req
	fwd.AllowAutoTopicCreation = false
	fwd.Topics = nil
	var local []kmsg.MetadataResponseTopic // answered by the gateway itself
	names := map[string]string{}           // backend name → client name
	// v1+: null = all topics; v0 has no null, and an empty list means all.
	explicit := req.Topics != nil
	if req.Version == 0 {
		explicit = len(req.Topics) > 0
	}
	for _, t := range req.Topics {
		if t.Topic == nil {
			local = append(local, metaTopicError(kerr.UnknownTopicID.Code, nil, t.TopicID))
			continue
		}
		name := *t.Topic
		raw, code := g.backendTopic(ctx, pid, keyID, name)
		if code != 0 {
			local = append(local, metaTopicError(code, &name, [16]byte{}))
			continue
		}
		names[raw] = name
		fwd.Topics = append(fwd.Topics, kmsg.MetadataRequestTopic{Topic: &raw})
	}
	if explicit && len(fwd.Topics) == 0 && req.Version > 0 {
		// Only brokers are wanted. (v0 cannot say so: it asks for all
		// topics, which the explicit filter below then drops.)
		fwd.Topics = []kmsg.MetadataRequestTopic{}
	}
	if req.Version == 0 {
		// v0 has no null list, so "all topics" is an empty one, which not
		// every backend reads that way; v1 with null says it unambiguously
		// and its answer is a superset of v0's.
		fwd.Version = 1
		if !explicit {
			fwd.Topics = nil
		}
	}
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		return g.mapMetadata(r.(*kmsg.MetadataResponse), req.Version, explicit, names, local, pid, keyID)
	})
}

// mapMetadata turns the backend's answer into the client's: its version,
// this role's broker addresses, only the project's topics under their
// client names, then the answers the gateway gave itself.
func (g *Gateway) mapMetadata(resp *kmsg.MetadataResponse, version int16, explicit bool, names map[string]string,
	local []kmsg.MetadataResponseTopic, pid, keyID string) (kmsg.Response, error) {
	resp.SetVersion(version)
	if err := g.rewriteBrokers(resp); err != nil {
		return nil, err
	}
	kept := resp.Topics[:0]
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		g.ids.learn(t.TopicID, *t.Topic)
		client, ok := names[*t.Topic]
		if !explicit {
			client, ok = g.clientTopic(pid, keyID, *t.Topic)
		}
		if !ok {
			continue
		}
		if t.ErrorCode == 0 {
			g.topics.Mark(*t.Topic)
		}
		t.Topic = &client
		t.IsInternal = false
		kept = append(kept, t)
	}
	resp.Topics = append(kept, local...)
	return resp, nil
}

// backendTopic maps a client's topic name for the role, or says which error
// answers it. On Inbound a valid new collection gets its raw topic now.
func (g *Gateway) backendTopic(ctx context.Context, pid, keyID, name string) (string, int16) {
	if g.cfg.Role == Outbound {
		if tenancy.CheckOutboundTopic(name) != nil {
			g.cfg.Metrics.refused(g.cfg.Role, pid, "invalid_topic")
			return "", kerr.InvalidTopicException.Code
		}
		return tenancy.BackendOutboundTopic(pid, name), 0
	}
	if err := tenancy.CheckCollectionTopic(name); err != nil {
		g.cfg.Metrics.refused(g.cfg.Role, pid, "invalid_topic")
		return "", kerr.InvalidTopicException.Code
	}
	raw := tenancy.RawTopic(pid, keyID, name)
	if err := g.ensureRawTopic(ctx, raw); err != nil {
		var limit *backend.CollectionLimitError
		if errors.As(err, &limit) {
			// What a Kafka broker answers a principal that may not create
			// the topic: clients fail the record at once, no retry.
			// Metadata has no error text; a Produce gets the count.
			g.cfg.Metrics.refused(g.cfg.Role, pid, "collection_limit")
			return "", kerr.TopicAuthorizationFailed.Code
		}
		g.log.Error("creating a collection's raw topic", "project", pid, "collection", name, "err", err)
		return "", kerr.LeaderNotAvailable.Code
	}
	return raw, 0
}

// clientTopic maps a backend topic back to the client's name when it is the
// project's (and, on Inbound, written with the same autofill key).
func (g *Gateway) clientTopic(pid, keyID, backend string) (string, bool) {
	if g.cfg.Role == Outbound {
		return tenancy.ClientOutboundTopic(pid, backend)
	}
	raw, ok := tenancy.ParseRawTopic(backend)
	// Collections recorded over HTTP may have names no Kafka topic can
	// have; producers cannot name them, so they are not listed either.
	if !ok || raw.ProjectID != pid || raw.KeyID != keyID || tenancy.CheckCollectionTopic(raw.Collection) != nil {
		return "", false
	}
	return raw.Collection, true
}

func metaTopicError(code int16, name *string, id [16]byte) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	t.ErrorCode, t.Topic, t.TopicID = code, name, id
	return t
}

// rewriteBrokers replaces every backend address with this role's endpoint
// for the same node id, learning nodes it has not seen yet.
func (g *Gateway) rewriteBrokers(resp *kmsg.MetadataResponse) error {
	cid := g.cfg.Role.clusterID()
	resp.ClusterID = &cid
	kept := resp.Brokers[:0]
	for _, b := range resp.Brokers {
		n, err := g.ensureNode(b.NodeID, b.Host, b.Port)
		if err != nil {
			return err
		}
		b.Host, b.Port, b.Rack = g.cfg.AdvertisedHost, n.port, nil
		kept = append(kept, b)
	}
	if len(kept) == 0 {
		return errors.New("backend metadata lists no broker the gateway can serve")
	}
	resp.Brokers = kept
	return nil
}
