package gateway

// Consumer groups on the Outbound listener: FindCoordinator (key 10, group
// keys only), JoinGroup (11), Heartbeat (12), LeaveGroup (13), SyncGroup
// (14), DescribeGroups (15) and ListGroups (16). The KIP-848 protocol
// (ConsumerGroupHeartbeat) is not offered: its broker-side regex
// subscriptions would match other projects' topics.
//
// Every group id is mapped into the project's namespace
// (tenancy.BackendGroup), so two projects may use the same group id
// independently and neither can name the other's. Answers carry the
// client's group ids, this listener's coordinator addresses, and only the
// project's groups. The member metadata and assignments inside JoinGroup
// and SyncGroup are opaque bytes holding client topic names; they are
// passed unchanged, which is right as long as every member of a group comes
// through this listener — and a backend group in a project's namespace is
// reachable only through it.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/tenancy"
)

func (g *Gateway) findCoordinator(ctx context.Context, st *connState, req *kmsg.FindCoordinatorRequest) (kafkaproto.Pending, error) {
	pid := st.p.pid
	switch req.CoordinatorType {
	case 0:
	case 1:
		return g.refuseWith(st, req, kerr.TransactionalIDAuthorizationFailed.Code, "transactional")
	default:
		return g.refuseWith(st, req, kerr.InvalidRequest.Code, "coordinator_type")
	}
	fwd := *req
	if req.Version < 4 {
		if req.CoordinatorKey == "" {
			return g.refuseWith(st, req, kerr.InvalidGroupID.Code, "empty_group")
		}
		fwd.CoordinatorKey = tenancy.BackendGroup(pid, req.CoordinatorKey)
	} else {
		fwd.CoordinatorKeys = make([]string, len(req.CoordinatorKeys))
		for i, k := range req.CoordinatorKeys {
			fwd.CoordinatorKeys[i] = tenancy.BackendGroup(pid, k)
		}
	}
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		resp := r.(*kmsg.FindCoordinatorResponse)
		if req.Version < 4 {
			resp.ErrorMessage = scrub(pid, resp.ErrorMessage)
			resp.NodeID, resp.Host, resp.Port = g.coordinator(resp.NodeID, resp.Host, resp.Port)
			return resp, nil
		}
		for i := range resp.Coordinators {
			c := &resp.Coordinators[i]
			c.Key, _ = tenancy.ClientGroup(pid, c.Key)
			c.ErrorMessage = scrub(pid, c.ErrorMessage)
			c.NodeID, c.Host, c.Port = g.coordinator(c.NodeID, c.Host, c.Port)
		}
		return resp, nil
	})
}

// coordinator rewrites a coordinator's address to this listener's endpoint
// for the same node (node -1 means "none" and stays).
func (g *Gateway) coordinator(id int32, host string, port int32) (int32, string, int32) {
	if id < 0 {
		return id, "", -1
	}
	n, err := g.ensureNode(id, host, port)
	if err != nil {
		g.log.Error("binding a listener for a coordinator", "node", id, "err", err)
		return -1, "", -1
	}
	return id, g.cfg.AdvertisedHost, n.port
}

// group forwards a request that names one group, after mapping it.
func (g *Gateway) group(ctx context.Context, st *connState, req kmsg.Request, name *string) (kafkaproto.Pending, error) {
	if *name == "" {
		return g.refuseWith(st, req, kerr.InvalidGroupID.Code, "empty_group")
	}
	*name = tenancy.BackendGroup(st.p.pid, *name)
	return g.forward(ctx, st, req, func(r kmsg.Response) (kmsg.Response, error) { return r, nil })
}

func (g *Gateway) joinGroup(ctx context.Context, st *connState, req *kmsg.JoinGroupRequest) (kafkaproto.Pending, error) {
	fwd := *req
	return g.group(ctx, st, &fwd, &fwd.Group)
}

func (g *Gateway) syncGroup(ctx context.Context, st *connState, req *kmsg.SyncGroupRequest) (kafkaproto.Pending, error) {
	fwd := *req
	return g.group(ctx, st, &fwd, &fwd.Group)
}

func (g *Gateway) heartbeat(ctx context.Context, st *connState, req *kmsg.HeartbeatRequest) (kafkaproto.Pending, error) {
	fwd := *req
	return g.group(ctx, st, &fwd, &fwd.Group)
}

func (g *Gateway) leaveGroup(ctx context.Context, st *connState, req *kmsg.LeaveGroupRequest) (kafkaproto.Pending, error) {
	fwd := *req
	return g.group(ctx, st, &fwd, &fwd.Group)
}

func (g *Gateway) describeGroups(ctx context.Context, st *connState, req *kmsg.DescribeGroupsRequest) (kafkaproto.Pending, error) {
	pid := st.p.pid
	fwd := *req
	fwd.IncludeAuthorizedOperations = false // they would describe the backend's ACLs
	fwd.Groups = make([]string, len(req.Groups))
	for i, grp := range req.Groups {
		fwd.Groups[i] = tenancy.BackendGroup(pid, grp)
	}
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		resp := r.(*kmsg.DescribeGroupsResponse)
		for i := range resp.Groups {
			grp := &resp.Groups[i]
			grp.Group, _ = tenancy.ClientGroup(pid, grp.Group)
			grp.ErrorMessage = scrub(pid, grp.ErrorMessage)
			grp.AuthorizedOperations = -2147483648 // "not requested"
		}
		return resp, nil
	})
}

func (g *Gateway) listGroups(ctx context.Context, st *connState, req *kmsg.ListGroupsRequest) (kafkaproto.Pending, error) {
	pid := st.p.pid
	fwd := *req
	return g.forward(ctx, st, &fwd, func(r kmsg.Response) (kmsg.Response, error) {
		resp := r.(*kmsg.ListGroupsResponse)
		kept := resp.Groups[:0]
		for _, grp := range resp.Groups {
			if c, ok := tenancy.ClientGroup(pid, grp.Group); ok {
				grp.Group = c
				kept = append(kept, grp)
			}
		}
		resp.Groups = kept
		return resp, nil
	})
}

// scrub removes the project's backend prefixes from a backend error text,
// so it names groups and topics as the client knows them.
func scrub(pid string, msg *string) *string {
	if msg == nil {
		return nil
	}
	s := strings.ReplaceAll(*msg, tenancy.BackendOutboundTopic(pid, ""), "")
	s = strings.ReplaceAll(s, tenancy.BackendGroup(pid, ""), "")
	return &s
}
