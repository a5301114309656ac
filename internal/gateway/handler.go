package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// connState is the gateway's state for one client connection.
type connState struct {
	p    *principal
	home int32 // the node this listener stands for (any node on bootstrap)
	// anyNode: a bootstrap connection, whose home may be any node that
	// answers (see reachHome).
	anyNode bool

	mu  sync.Mutex
	ups map[int32]*upstream
}

// Begin starts one authenticated request (kafkaproto.Handler): what goes
// to the backend is sent now, and the answer is read and mapped back when
// the connection's writer asks for it, so the client's next request is read
// while the backend works on this one.
func (g *Gateway) Begin(ctx context.Context, c *kafkaproto.Conn, req kmsg.Request, frame []byte) (kafkaproto.Pending, error) {
	st, err := g.state(c)
	if err != nil {
		return nil, err
	}
	if e := roles[g.cfg.Role][kmsg.Key(req.Key())]; e.serve != nil {
		return e.serve(g, ctx, st, req, frame)
	}
	return g.refusePending(st, req)
}

// refusePending is refuse's answer as a Pending.
func (g *Gateway) refusePending(st *connState, req kmsg.Request) (kafkaproto.Pending, error) {
	resp, err := g.refuse(st, req)
	if err != nil {
		return nil, err
	}
	return answered(resp), nil
}

// initProducerID serves an idempotent producer's InitProducerID; a
// transactional one is refused (sluice does not offer transactions).
func (g *Gateway) initProducerID(ctx context.Context, st *connState, req *kmsg.InitProducerIDRequest) (kafkaproto.Pending, error) {
	if req.TransactionalID != nil {
		return g.refusePending(st, req)
	}
	return g.startHome(ctx, st, req)
}

// answered is a Pending whose answer is already known.
func answered(resp kmsg.Response) kafkaproto.Pending {
	return func() (kmsg.Response, error) { return resp, nil }
}

// unlisted answers requests for APIs the role does not advertise.
func (g *Gateway) unlisted(c *kafkaproto.Conn, req kmsg.Request) kmsg.Response {
	st, err := g.state(c)
	if err != nil {
		return nil
	}
	resp, err := g.refuse(st, req)
	if err != nil {
		return nil
	}
	return resp
}

// refuse answers a request the role does not serve like a broker whose ACLs
// deny, or closes the connection when there is no such answer.
func (g *Gateway) refuse(st *connState, req kmsg.Request) (kmsg.Response, error) {
	code, msg, ok := refusalCode(g.cfg.Role, req)
	if ok {
		if resp, ok := Refuse(req, code, msg); ok {
			g.cfg.Metrics.refused(g.cfg.Role, st.p.pid, kmsg.NameForKey(req.Key()))
			return resp, nil
		}
	}
	g.cfg.Metrics.refused(g.cfg.Role, st.p.pid, kmsg.NameForKey(req.Key()))
	return nil, fmt.Errorf("%s is not served on the %s listener", kmsg.NameForKey(req.Key()), g.cfg.Role)
}

// state returns the connection's state, creating it on the first request.
func (g *Gateway) state(c *kafkaproto.Conn) (*connState, error) {
	if st, ok := c.Value().(*connState); ok {
		return st, nil
	}
	p, ok := c.Principal().(*principal)
	if !ok {
		return nil, fmt.Errorf("connection has no sluice principal")
	}
	n, anyNode, ok := g.nodeByListener(c.LocalAddr())
	if !ok {
		return nil, fmt.Errorf("no backend broker known")
	}
	st := &connState{p: p, home: n.id, anyNode: anyNode, ups: map[int32]*upstream{}}
	c.SetValue(st)
	// Upstream connections close with the client's; AfterFunc costs no
	// goroutine per connection while it is open.
	context.AfterFunc(c.Context(), func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		for id, u := range st.ups {
			u.close()
			delete(st.ups, id)
		}
	})
	return st, nil
}

// upstream returns the connection's upstream to node id, dialing it once.
func (g *Gateway) upstream(ctx context.Context, st *connState, id int32) (*upstream, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if u, ok := st.ups[id]; ok {
		return u, nil
	}
	g.mu.Lock()
	n, ok := g.nodes[id]
	var addr string
	if ok {
		addr = n.backend
	}
	g.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("backend broker %d is unknown", id)
	}
	// The backend sees a project-tagged client id, so its logs and quotas
	// attribute traffic per project.
	u, err := g.dialer.dial(ctx, addr, "sluice-"+g.cfg.Role.String()+"-"+st.p.pid)
	if err != nil {
		return nil, err
	}
	st.ups[id] = u
	return u, nil
}

// start sends req to node id and returns how to wait for the backend's
// answer. A broken upstream is dropped (and the client's connection closed
// by the error), as a broker's failure would.
func (g *Gateway) start(ctx context.Context, st *connState, id int32, req kmsg.Request) (kafkaproto.Pending, error) {
	return g.startWith(ctx, st, id, req, func(u *upstream) (int32, error) { return u.send(ctx, req) })
}

// startWith is start with req sent by send (req then only says what answer
// to expect), for a request forwarded as the client's frame spliced.
func (g *Gateway) startWith(ctx context.Context, st *connState, id int32, req kmsg.Request, send func(*upstream) (int32, error)) (kafkaproto.Pending, error) {
	u, err := g.upstream(ctx, st, id)
	if err != nil {
		return nil, err
	}
	corr, err := send(u)
	if err != nil {
		g.dropUpstream(st, id, u)
		return nil, fmt.Errorf("forwarding %s to backend broker %d: %w", kmsg.NameForKey(req.Key()), id, err)
	}
	return func() (kmsg.Response, error) {
		resp, err := u.receive(ctx, req, corr)
		if err != nil {
			g.dropUpstream(st, id, u)
			return nil, fmt.Errorf("reading %s answer from backend broker %d: %w", kmsg.NameForKey(req.Key()), id, err)
		}
		return resp, nil
	}, nil
}

// startHome is start toward the connection's home node.
func (g *Gateway) startHome(ctx context.Context, st *connState, req kmsg.Request) (kafkaproto.Pending, error) {
	if err := g.reachHome(ctx, st); err != nil {
		return nil, err
	}
	return g.start(ctx, st, st.home, req)
}

// reachHome makes sure a bootstrap connection's home node can be reached,
// moving it to the next node that can: a client that knows only the
// bootstrap address (a new one, or one whose metadata is gone) must not be
// shut out by a single dead broker. A node's own listener keeps its node,
// as a broker's address does.
func (g *Gateway) reachHome(ctx context.Context, st *connState) error {
	if !st.anyNode {
		return nil
	}
	_, err := g.upstream(ctx, st, st.home)
	if err == nil {
		return nil
	}
	for _, id := range g.nodeIDs() {
		if id == st.home {
			continue
		}
		if _, e := g.upstream(ctx, st, id); e == nil {
			st.home = id
			return nil
		}
	}
	return err
}

func (g *Gateway) dropUpstream(st *connState, id int32, u *upstream) {
	u.close()
	st.mu.Lock()
	if st.ups[id] == u {
		delete(st.ups, id)
	}
	st.mu.Unlock()
}

// autofillKeyID is the key id that routes this principal's events to its own
// raw topics: set only for an access key with autofill, read afresh on every
// request so a changed key takes effect at once.
func (g *Gateway) autofillKeyID(p *principal) string {
	cred := g.cfg.Registry.Match(p.pid, p.secret)
	if cred.Kind != registry.KindAccess || cred.AccessKey.Options.Writes == nil || len(cred.AccessKey.Options.Writes.Autofill) == 0 {
		return ""
	}
	return tenancy.KeyID(p.secret)
}
