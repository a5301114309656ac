package gateway

// Offsets on the Outbound listener: ListOffsets (key 2), OffsetForLeaderEpoch
// (23), OffsetCommit (8, v2–9) and OffsetFetch (9, v1–9). Versions that name
// topics by id (OffsetCommit/OffsetFetch v10) are not advertised.
//
// Topic names are mapped into the project's outbound namespace and back;
// names that cannot be outbound topics are answered INVALID_TOPIC_EXCEPTION
// by the gateway itself. Group ids are mapped into the project's group
// namespace (groups.go). ListOffsets reads at read_committed, so a client
// never sees an end offset past the last stable offset; replica ids are
// forced to a consumer's.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// topicMap maps client topic names of one request into the project's
// outbound namespace and remembers the way back.
type topicMap struct {
	pid    string
	toUser map[string]string
}

func newTopicMap(pid string) *topicMap { return &topicMap{pid: pid, toUser: map[string]string{}} }

// backend maps a client name, or says it cannot be an outbound topic.
func (m *topicMap) backend(client string) (string, bool) {
	if tenancy.CheckOutboundTopic(client) != nil {
		return "", false
	}
	b := tenancy.BackendOutboundTopic(m.pid, client)
	m.toUser[b] = client
	return b, true
}

// client maps a backend name back; false for anything the client did not
// name (never shown).
func (m *topicMap) client(backend string) (string, bool) {
	c, ok := m.toUser[backend]
	return c, ok
}

// split maps the topics of a request: those that can be outbound topics
// renamed into the namespace (fwd), the others as they were (bad).
func split[T any](m *topicMap, in []T, name func(*T) *string) (fwd, bad []T) {
	for _, t := range in {
		n := name(&t)
		if b, ok := m.backend(*n); ok {
			*n = b
			fwd = append(fwd, t)
		} else {
			bad = append(bad, t)
		}
	}
	return fwd, bad
}

// back maps the topics of an answer back to client names, dropping any the
// client did not name.
func back[T any](m *topicMap, in []T, name func(*T) *string) []T {
	kept := in[:0]
	for _, t := range in {
		n := name(&t)
		if c, ok := m.client(*n); ok {
			*n = c
			kept = append(kept, t)
		}
	}
	return kept
}

func (g *Gateway) listOffsets(ctx context.Context, st *connState, req *kmsg.ListOffsetsRequest) (kafkaproto.Pending, error) {
	m := newTopicMap(st.p.pid)
	fwd := *req
	fwd.ReplicaID, fwd.IsolationLevel = -1, 1
	bad := *req
	fwd.Topics, bad.Topics = split(m, req.Topics, func(t *kmsg.ListOffsetsRequestTopic) *string { return &t.Topic })
	local := g.refusedLocally(st, &bad, len(bad.Topics)).(*kmsg.ListOffsetsResponse)
	if len(fwd.Topics) == 0 {
		return answered(local), nil
	}
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		resp := r.(*kmsg.ListOffsetsResponse)
		resp.Topics = append(back(m, resp.Topics, func(t *kmsg.ListOffsetsResponseTopic) *string { return &t.Topic }), local.Topics...)
		return resp, nil
	})
}

func (g *Gateway) offsetForLeaderEpoch(ctx context.Context, st *connState, req *kmsg.OffsetForLeaderEpochRequest) (kafkaproto.Pending, error) {
	m := newTopicMap(st.p.pid)
	fwd := *req
	fwd.ReplicaID = -1
	bad := *req
	fwd.Topics, bad.Topics = split(m, req.Topics, func(t *kmsg.OffsetForLeaderEpochRequestTopic) *string { return &t.Topic })
	local := g.refusedLocally(st, &bad, len(bad.Topics)).(*kmsg.OffsetForLeaderEpochResponse)
	if len(fwd.Topics) == 0 {
		return answered(local), nil
	}
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		resp := r.(*kmsg.OffsetForLeaderEpochResponse)
		resp.Topics = append(back(m, resp.Topics, func(t *kmsg.OffsetForLeaderEpochResponseTopic) *string { return &t.Topic }), local.Topics...)
		return resp, nil
	})
}

func (g *Gateway) offsetCommit(ctx context.Context, st *connState, req *kmsg.OffsetCommitRequest) (kafkaproto.Pending, error) {
	if req.Group == "" {
		return g.refuseWith(st, req, kerr.InvalidGroupID.Code, "empty_group")
	}
	m := newTopicMap(st.p.pid)
	fwd := *req
	fwd.Group = tenancy.BackendGroup(st.p.pid, req.Group)
	bad := *req
	fwd.Topics, bad.Topics = split(m, req.Topics, func(t *kmsg.OffsetCommitRequestTopic) *string { return &t.Topic })
	local := g.refusedLocally(st, &bad, len(bad.Topics)).(*kmsg.OffsetCommitResponse)
	if len(fwd.Topics) == 0 {
		return answered(local), nil
	}
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		resp := r.(*kmsg.OffsetCommitResponse)
		resp.Topics = append(back(m, resp.Topics, func(t *kmsg.OffsetCommitResponseTopic) *string { return &t.Topic }), local.Topics...)
		return resp, nil
	})
}

// offsetFetch handles both shapes: v1–7 (one group; null topics = all
// from v2) and v8–9 (batched groups).
func (g *Gateway) offsetFetch(ctx context.Context, st *connState, req *kmsg.OffsetFetchRequest) (kafkaproto.Pending, error) {
	pid := st.p.pid
	m := newTopicMap(pid)
	fwd := *req
	if req.Version < 8 {
		if req.Group == "" {
			return g.refuseWith(st, req, kerr.InvalidGroupID.Code, "empty_group")
		}
		fwd.Group = tenancy.BackendGroup(pid, req.Group)
		fwd.Topics = nil
		for _, t := range req.Topics {
			if b, ok := m.backend(t.Topic); ok {
				t.Topic = b
				fwd.Topics = append(fwd.Topics, t)
			}
		}
		if req.Topics != nil && fwd.Topics == nil {
			fwd.Topics = []kmsg.OffsetFetchRequestTopic{} // not null: null means all
		}
	} else {
		fwd.Groups = nil
		for _, grp := range req.Groups {
			if grp.Group == "" {
				return g.refuseWith(st, req, kerr.InvalidGroupID.Code, "empty_group")
			}
			grp.Group = tenancy.BackendGroup(pid, grp.Group)
			topics := grp.Topics
			grp.Topics = nil
			for _, t := range topics {
				if b, ok := m.backend(t.Topic); ok {
					t.Topic = b
					grp.Topics = append(grp.Topics, t)
				}
			}
			if topics != nil && grp.Topics == nil {
				grp.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
			}
			fwd.Groups = append(fwd.Groups, grp)
		}
	}
	// A topic that cannot be an outbound topic has no committed offset:
	// it is simply not in the answer, as Kafka answers unknown topics.
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		resp := r.(*kmsg.OffsetFetchResponse)
		// "All topics" answers hold every topic the group committed,
		// which are the project's own by construction; map them back.
		own := func(backend string) (string, bool) {
			if c, ok := m.client(backend); ok {
				return c, true
			}
			return tenancy.ClientOutboundTopic(pid, backend)
		}
		kept := resp.Topics[:0]
		for _, t := range resp.Topics {
			if c, ok := own(t.Topic); ok {
				t.Topic = c
				kept = append(kept, t)
			}
		}
		resp.Topics = kept
		for i := range resp.Groups {
			grp := &resp.Groups[i]
			grp.Group, _ = tenancy.ClientGroup(pid, grp.Group)
			kt := grp.Topics[:0]
			for _, t := range grp.Topics {
				if c, ok := own(t.Topic); ok {
					t.Topic = c
					kt = append(kt, t)
				}
			}
			grp.Topics = kt
		}
		return resp, nil
	})
}

// refusedLocally is the gateway's own answer for the n topics of req it
// refused (INVALID_TOPIC_EXCEPTION), or an empty answer when n is 0.
func (g *Gateway) refusedLocally(st *connState, req kmsg.Request, n int) kmsg.Response {
	if n > 0 {
		g.cfg.Metrics.refused(g.cfg.Role, st.p.pid, "invalid_topic")
	}
	resp, ok := Refuse(req, kerr.InvalidTopicException.Code, "")
	if !ok {
		resp = req.ResponseKind()
	}
	return resp
}

// refuseWith answers the whole request with code.
func (g *Gateway) refuseWith(st *connState, req kmsg.Request, code int16, reason string) (kafkaproto.Pending, error) {
	g.cfg.Metrics.refused(g.cfg.Role, st.p.pid, reason)
	resp, ok := Refuse(req, code, "")
	if !ok {
		return nil, kerr.ErrorForCode(code)
	}
	return answered(resp), nil
}

// forward sends req to the connection's node and maps the answer with fn
// once it arrives.
func (g *Gateway) forward(ctx context.Context, st *connState, req kmsg.Request, fn func(kmsg.Response) (kmsg.Response, error)) (kafkaproto.Pending, error) {
	wait, err := g.startHome(ctx, st, req)
	if err != nil {
		return nil, err
	}
	return func() (kmsg.Response, error) {
		r, err := wait()
		if err != nil {
			return nil, err
		}
		return fn(r)
	}, nil
}
