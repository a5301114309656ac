// Package gateway is the Kafka-protocol gateway behind the Inbound and
// Outbound listeners (docs/decisions.md §2–§4): it authenticates a project key,
// maps the project's names into the backend's, forwards each request at the
// client's exact version to the right backend broker over an upstream
// connection of the client's own, and maps the answer back. Clients only
// ever see the gateway's own addresses and their project's own names.
//
// Addressing: the bootstrap listener forwards to any backend broker; each
// backend broker also gets a listener of its own per role (node ids are kept
// 1:1), at bootstrap port + NodePortStep × k for the k-th broker (k = 1, 2,
// …, by node id at start), so Produce and Fetch reach partition leaders.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/registry"
)

// DefaultNodePortStep is how far apart sluice places a listener's
// per-broker ports when its bootstrap port is fixed (9092 → 9192, 9292, …).
const DefaultNodePortStep = 100

// Config configures one listener role.
type Config struct {
	Role           Role
	Listener       net.Listener // the bootstrap listener, already bound
	NodePortStep   int          // 0: node listeners on kernel-chosen ports
	AdvertisedHost string
	TLS            *tls.Config
	Registry       *registry.Registry
	Backend        *backend.Backend
	Metrics        *Metrics
	Logger         *slog.Logger
	// Limits applies to what clients send and hold: a zero collection
	// limit takes its limits.Default() value, zero connection caps
	// (Limits.Connections) mean none.
	Limits limits.Config
	// ProduceQuota, when not nil, bounds each project's produce bytes per
	// second (Inbound; shared with the HTTP Stream API).
	ProduceQuota *quota.Limiter
}

// Gateway serves one role.
type Gateway struct {
	cfg    Config
	srv    *kafkaproto.Server
	dialer dialer
	live   *liveSet
	topics *backend.RawTopics
	valid  *batchValidator
	ids    *topicIDs
	log    *slog.Logger
	// splicers are the scratch space of Produce requests being forwarded
	// (kafkaproto.Splicer), pooled rather than kept per upstream so an
	// idle connection holds none.
	splicers sync.Pool
	bodies   kafkaproto.BufferPool // the backend's responses

	mu    sync.Mutex
	nodes map[int32]*node
	serve sync.WaitGroup
	ctx   context.Context
}

// node is a backend broker and this role's listener for it.
type node struct {
	id      int32
	backend string // host:port of the broker
	ln      net.Listener
	port    int32 // advertised port
}

// New prepares the role: discovers the backend brokers, binds a listener
// for each, and computes the advertised API versions.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	g := &Gateway{
		cfg:    cfg,
		live:   newLiveSet(),
		topics: cfg.Backend.NewRawTopics(cfg.Limits.MaxCollectionsPerProject),
		valid:  newBatchValidator(limits.MaxDecompressedBatchBytes, limits.MaxMessageBytes),
		ids:    newTopicIDs(cfg.Backend.TopicIDs),
		log:    cfg.Logger.With("listener", cfg.Role.String()),
		nodes:  map[int32]*node{},
	}
	g.dialer = dialer{tls: cfg.Backend.TLS, sasl: cfg.Backend.SASL, bodies: &g.bodies}
	if err := g.refreshNodes(ctx); err != nil {
		return nil, err
	}
	cfg.Registry.OnChange(func() { g.live.revalidate(cfg.Registry) })
	apis, err := g.advertisedAPIs(ctx)
	if err != nil {
		g.closeNodes()
		return nil, err
	}
	srv, err := kafkaproto.New(kafkaproto.Config{
		TLS:      cfg.TLS,
		Auth:     authenticator{role: cfg.Role, reg: cfg.Registry, live: g.live, metrics: cfg.Metrics},
		Handler:  g,
		Unlisted: g.unlisted,
		APIs:     apis,
		Logger:   g.log,
		Observer: cfg.Metrics.observer(cfg.Role),

		MaxConns:             cfg.Limits.MaxKafkaConnections,
		MaxConnsPerUser:      cfg.Limits.MaxKafkaConnectionsPerProject,
		MaxPendingPerAddress: cfg.Limits.MaxKafkaPendingPerAddress,
		AuthTimeout:          cfg.Limits.KafkaAuthTimeout,
		AuthFailureMaxDelay:  cfg.Limits.KafkaAuthFailureMaxDelay,
	})
	if err != nil {
		g.closeNodes()
		return nil, fmt.Errorf("configuring the %s listener: %w", cfg.Role, err)
	}
	g.srv = srv
	return g, nil
}

// Serve accepts clients on every listener of the role until Shutdown.
func (g *Gateway) Serve(ctx context.Context) {
	g.mu.Lock()
	g.ctx = ctx
	g.serveLocked(g.cfg.Listener)
	for _, n := range g.nodes {
		g.serveLocked(n.ln)
	}
	g.mu.Unlock()
}

func (g *Gateway) serveLocked(ln net.Listener) {
	g.serve.Add(1)
	go func() {
		defer g.serve.Done()
		if err := g.srv.Serve(g.ctx, ln); err != nil && !errors.Is(err, kafkaproto.ErrServerClosed) && g.ctx.Err() == nil {
			g.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Shutdown stops accepting, lets in-flight requests finish and closes.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.srv.Shutdown(ctx)
	g.closeNodes()
	g.serve.Wait()
	return err
}

// Endpoints lists the role's advertised node endpoints, for start-up output.
func (g *Gateway) Endpoints() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, id := range g.nodeIDsLocked() {
		n := g.nodes[id]
		out = append(out, fmt.Sprintf("node %d → %s", id, net.JoinHostPort(g.cfg.AdvertisedHost, strconv.Itoa(int(n.port)))))
	}
	return out
}

func (g *Gateway) nodeIDsLocked() []int32 {
	ids := make([]int32, 0, len(g.nodes))
	for id := range g.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (g *Gateway) closeNodes() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.nodes {
		n.ln.Close()
	}
}

// refreshNodes learns the backend brokers at start and binds a listener
// for each.
func (g *Gateway) refreshNodes(ctx context.Context) error {
	meta, err := g.cfg.Backend.Admin().BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("listing backend brokers: %w", err)
	}
	brokers := meta.Brokers
	slices.SortFunc(brokers, func(a, b kadm.BrokerDetail) int { return int(a.NodeID) - int(b.NodeID) })
	for _, b := range brokers {
		if _, err := g.ensureNode(b.NodeID, b.Host, b.Port); err != nil {
			return err
		}
	}
	return nil
}

// ensureNode returns the node with this id, binding a listener for it
// first if it is new (a broker that joined the cluster). Existing nodes keep
// their listener: clients may hold its address.
func (g *Gateway) ensureNode(id int32, host string, port int32) (*node, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n, ok := g.nodes[id]; ok {
		n.backend = net.JoinHostPort(host, strconv.Itoa(int(port))) // brokers may move
		return n, nil
	}
	lhost, portStr, _ := net.SplitHostPort(g.cfg.Listener.Addr().String())
	bootPort, _ := strconv.Atoi(portStr)
	lport := 0
	if g.cfg.NodePortStep > 0 {
		lport = bootPort + g.cfg.NodePortStep*(len(g.nodes)+1)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(lhost, strconv.Itoa(lport)))
	if err != nil {
		return nil, fmt.Errorf("binding the %s listener for backend broker %d: %w", g.cfg.Role, id, err)
	}
	n := &node{id: id, backend: net.JoinHostPort(host, strconv.Itoa(int(port))), ln: ln,
		port: int32(ln.Addr().(*net.TCPAddr).Port)}
	g.nodes[id] = n
	if g.ctx != nil { // already serving: serve the new node at once
		g.serveLocked(ln)
	}
	g.log.Info("backend broker endpoint", "node", id, "listen", ln.Addr().String())
	return n, nil
}

// nodeByListener returns the node a connection on ln forwards to: its own
// node, or for the bootstrap listener any node (anyNode says so).
func (g *Gateway) nodeByListener(local net.Addr) (_ *node, anyNode, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.nodes {
		if n.ln.Addr().String() == local.String() {
			return n, false, true
		}
	}
	ids := g.nodeIDsLocked()
	if len(ids) == 0 {
		return nil, false, false
	}
	return g.nodes[ids[0]], true, true
}

// nodeIDs lists the known backend nodes, by id.
func (g *Gateway) nodeIDs() []int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodeIDsLocked()
}

// endpoint is the advertised address of a known backend node for this role.
func (g *Gateway) endpoint(id int32) (host string, port int32, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[id]
	if !ok {
		return "", 0, false
	}
	return g.cfg.AdvertisedHost, n.port, true
}

// advertisedAPIs intersects the role's versions with every backend broker's.
func (g *Gateway) advertisedAPIs(ctx context.Context) (map[int16]kafkaproto.VersionRange, error) {
	out := map[int16]kafkaproto.VersionRange{}
	for k, e := range roles[g.cfg.Role] {
		out[int16(k)] = e.versions
	}
	g.mu.Lock()
	ids := g.nodeIDsLocked()
	g.mu.Unlock()
	for _, id := range ids {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice", "1"
		r, err := g.cfg.Backend.Client().Broker(int(id)).Request(ctx, req)
		if err == nil {
			err = kerr.ErrorForCode(r.(*kmsg.ApiVersionsResponse).ErrorCode)
		}
		if err != nil {
			return nil, fmt.Errorf("asking backend broker %d for its API versions: %w", id, err)
		}
		have := map[int16]kmsg.ApiVersionsResponseApiKey{}
		for _, k := range r.(*kmsg.ApiVersionsResponse).ApiKeys {
			have[k.ApiKey] = k
		}
		for key, r := range out {
			b, ok := have[key]
			if !ok {
				delete(out, key)
				continue
			}
			// Produce keeps min 0 whatever the backend says (see roles).
			if key != int16(kmsg.Produce) {
				r.Min = max(r.Min, b.MinVersion)
			}
			r.Max = min(r.Max, b.MaxVersion)
			if r.Min > r.Max {
				delete(out, key)
				continue
			}
			out[key] = r
		}
	}
	return out, nil
}
