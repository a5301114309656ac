package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/sluice-io/sluice/internal/kafkaproto"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/tenancy"
)

// errBadCredentials is the one answer for an unknown project, a malformed
// project id and a wrong key alike, so none can be told from another.
var errBadCredentials = errors.New("Authentication failed: invalid project id or key")

// principal is an authenticated project key on one connection. valid is
// flipped by the revalidation loop when the registry changes, so the
// protocol server's per-request check is an atomic load.
type principal struct {
	pid    string
	secret string
	role   Role
	valid  atomic.Bool
}

func (p *principal) User() string { return p.pid }
func (p *principal) Valid() bool  { return p.valid.Load() }

// authenticator checks PLAIN credentials against the registry for a role.
type authenticator struct {
	role    Role
	reg     *registry.Registry
	live    *liveSet
	metrics *Metrics
}

func (a authenticator) Authenticate(ctx context.Context, user, pass string) (kafkaproto.Principal, error) {
	cred := a.reg.Match(user, pass)
	if tenancy.CheckProjectID(user) != nil || cred.Kind == registry.KindNone {
		project := "unknown"
		if _, ok := a.reg.Project(user); ok {
			project = user
		}
		a.metrics.authFailed(a.role, project)
		return nil, errBadCredentials
	}
	if err := a.role.admits(cred); err != nil {
		a.metrics.authFailed(a.role, user)
		return nil, err
	}
	p := &principal{pid: user, secret: pass, role: a.role}
	p.valid.Store(true)
	a.live.add(p)
	// The principal leaves the live set with its connection, whether or
	// not the connection is then admitted or ever sends a request.
	if c, ok := kafkaproto.ConnFromContext(ctx); ok {
		context.AfterFunc(c.Context(), func() { a.live.remove(p) })
	}
	return p, nil
}

// liveSet tracks the principals of open connections so that a change in the
// registry (revoked, deleted or narrowed key) reaches them at once.
type liveSet struct {
	mu sync.Mutex
	ps map[*principal]struct{}
}

func newLiveSet() *liveSet { return &liveSet{ps: map[*principal]struct{}{}} }

func (l *liveSet) add(p *principal) {
	l.mu.Lock()
	l.ps[p] = struct{}{}
	l.mu.Unlock()
}

func (l *liveSet) remove(p *principal) {
	l.mu.Lock()
	delete(l.ps, p)
	l.mu.Unlock()
}

// revalidate re-checks every live principal against the registry.
func (l *liveSet) revalidate(reg *registry.Registry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p := range l.ps {
		cred := reg.Match(p.pid, p.secret)
		if cred.Kind == registry.KindNone || p.role.admits(cred) != nil {
			p.valid.Store(false)
			delete(l.ps, p)
		}
	}
}
