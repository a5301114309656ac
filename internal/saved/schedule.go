package saved

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/store"
)

// Group is the registry member group of the cached-query schedule.
const Group = "cached-queries"

// MaxResultBytes bounds a cached answer kept in the registry topic
// (limits.MaxCachedResultBytes). A larger answer is recorded as a failed
// run, and …/result computes it when asked.
const MaxResultBytes = limits.MaxCachedResultBytes

// Production timing of the schedule: a member beats every DefaultBeat and
// is live DefaultTTL after its beat; clocks may differ by DefaultGrace.
// A crashed leader's successor starts within DefaultTTL + DefaultGrace.
const (
	DefaultBeat  = 2 * time.Second
	DefaultTTL   = 10 * time.Second
	DefaultGrace = 2 * time.Second
)

// staleMember is how long a member that stopped beating without leaving
// (a crash) is kept before the leader removes its record.
const staleMember = time.Hour

// IsLeader reports whether member self leads the group at now. The live
// member that joined first leads: another member is live until grace
// after its heartbeat expires, while self counts itself live only until
// grace before its own expires. Between the two, nobody leads, so two
// processes whose clocks differ by less than grace never both lead.
func IsLeader(members []registry.Member, self string, now time.Time, grace time.Duration) bool {
	var me *registry.Member
	for i := range members {
		if members[i].ID == self {
			me = &members[i]
		}
	}
	if me == nil || !now.Before(me.Expires.Add(-grace)) {
		return false
	}
	for _, m := range members {
		if m.ID == self || now.After(m.Expires.Add(grace)) {
			continue
		}
		if m.Joined.Before(me.Joined) || m.Joined.Equal(me.Joined) && m.ID < self {
			return false
		}
	}
	return true
}

// Registry is what the schedule needs from the registry.
type Registry interface {
	Read(fn func(v *registry.View))
	Sync(ctx context.Context) error
	Heartbeat(ctx context.Context, m registry.Member) error
	Leave(ctx context.Context, group, id string) error
	PutSavedResult(ctx context.Context, res registry.SavedResult) error
}

// Task is more work only the leader does, each beat while it leads (the
// datasets' refresh, package dataset): RefreshDue does what is due, as
// member holder, reading the time from now, and returns. Its ctx ends as
// soon as leadership is lost; a task must then write nothing more.
type Task interface {
	RefreshDue(ctx context.Context, holder string, now func() time.Time)
}

// ScheduleConfig configures a Schedule.
type ScheduleConfig struct {
	Registry Registry
	Runner   Runner
	// Tasks run after the cached queries, under the same leadership.
	Tasks []Task
	// ID names this process in the group (unique per process run).
	ID string
	// Beat is how often the member beats and looks for due queries; TTL
	// how long a beat keeps it live; Grace the clock skew tolerated
	// between processes (see IsLeader). TTL must exceed Beat + 2×Grace.
	Beat, TTL, Grace time.Duration
	Now              func() time.Time
	Logger           *slog.Logger
}

// Schedule recomputes cached queries when due, and runs its tasks, while
// this process leads.
type Schedule struct {
	cfg    ScheduleConfig
	joined time.Time
}

// NewSchedule checks cfg and returns a Schedule; Run starts it.
func NewSchedule(cfg ScheduleConfig) (*Schedule, error) {
	if cfg.TTL <= cfg.Beat+2*cfg.Grace {
		return nil, fmt.Errorf("cached-query schedule: the TTL %s must exceed the beat %s plus twice the grace %s", cfg.TTL, cfg.Beat, cfg.Grace)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Schedule{cfg: cfg}, nil
}

// Run beats and, while leading, refreshes due cached queries until ctx
// ends; then it stops refreshing and leaves the group, so that another
// member leads at once.
func (s *Schedule) Run(ctx context.Context) {
	s.joined = s.cfg.Now()
	work, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.refreshLoop(work)
	}()
	t := time.NewTicker(s.cfg.Beat)
	defer t.Stop()
	for {
		s.beat(ctx)
		select {
		case <-ctx.Done():
			stopWork()
			wg.Wait()
			leaveCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.cfg.Registry.Leave(leaveCtx, Group, s.cfg.ID); err != nil {
				s.cfg.Logger.Warn("leaving the cached-query schedule", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

func (s *Schedule) beat(ctx context.Context) {
	now := s.cfg.Now()
	m := registry.Member{Group: Group, ID: s.cfg.ID, Joined: s.joined, Beat: now, Expires: now.Add(s.cfg.TTL)}
	bctx, cancel := context.WithTimeout(ctx, s.cfg.TTL)
	defer cancel()
	if err := s.cfg.Registry.Heartbeat(bctx, m); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Warn("cached-query schedule heartbeat", "err", err)
	}
}

// leading reports whether this process leads now, by its view.
func (s *Schedule) leading() bool {
	var members []registry.Member
	s.cfg.Registry.Read(func(v *registry.View) { members = v.Members(Group) })
	return IsLeader(members, s.cfg.ID, s.cfg.Now(), s.cfg.Grace)
}

// refreshLoop refreshes what is due each beat while leading. A refresh
// runs under a context cancelled as soon as leadership is lost, so that a
// process that stopped leading never writes a result.
func (s *Schedule) refreshLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Beat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.leading() {
			continue
		}
		s.refreshDue(ctx)
	}
}

func (s *Schedule) refreshDue(ctx context.Context) {
	lead, lost := context.WithCancel(ctx)
	defer lost()
	go func() {
		t := time.NewTicker(s.cfg.Beat)
		defer t.Stop()
		for {
			select {
			case <-lead.Done():
				return
			case <-t.C:
				if !s.leading() {
					lost()
					return
				}
			}
		}
	}()
	// A new leader first reads everything its predecessor wrote, so that
	// it does not run again what was just run.
	if err := s.cfg.Registry.Sync(lead); err != nil {
		if lead.Err() == nil {
			s.cfg.Logger.Warn("cached-query schedule: reading the registry", "err", err)
		}
		return
	}
	var due []registry.SavedQuery
	var stale []string
	now := s.cfg.Now()
	s.cfg.Registry.Read(func(v *registry.View) {
		for _, sq := range v.CachedQueries() {
			last, ok := v.SavedResult(sq.ProjectID, sq.Name)
			var lp *registry.SavedResult
			if ok {
				lp = &last
			}
			if Due(sq, lp, now) {
				due = append(due, sq)
			}
		}
		for _, m := range v.Members(Group) {
			if now.Sub(m.Expires) > staleMember {
				stale = append(stale, m.ID)
			}
		}
	})
	for _, id := range stale {
		if err := s.cfg.Registry.Leave(lead, Group, id); err != nil && lead.Err() == nil {
			s.cfg.Logger.Warn("cached-query schedule: removing a stale member", "member", id, "err", err)
		}
	}
	for _, sq := range due {
		if lead.Err() != nil {
			return
		}
		res := s.refresh(lead, sq)
		if lead.Err() != nil {
			return // leadership lost mid-run: the next leader runs it
		}
		if !s.current(sq) {
			continue // replaced or deleted while it ran: its result would serve nothing
		}
		if err := s.cfg.Registry.PutSavedResult(lead, res); err != nil && lead.Err() == nil {
			s.cfg.Logger.Warn("cached-query schedule: storing a result", "project", sq.ProjectID, "query", sq.Name, "err", err)
		}
	}
	for _, t := range s.cfg.Tasks {
		if lead.Err() != nil {
			return
		}
		t.RefreshDue(lead, s.cfg.ID, s.cfg.Now)
	}
}

// current reports whether sq is still the definition in the view.
func (s *Schedule) current(sq registry.SavedQuery) bool {
	var now registry.SavedQuery
	var ok bool
	s.cfg.Registry.Read(func(v *registry.View) { now, ok = v.SavedQuery(sq.ProjectID, sq.Name) })
	return ok && now.Version == sq.Version
}

// refresh runs one cached query and returns its result record.
func (s *Schedule) refresh(ctx context.Context, sq registry.SavedQuery) registry.SavedResult {
	runAt := s.cfg.Now()
	res := registry.SavedResult{ProjectID: sq.ProjectID, Name: sq.Name, Version: sq.Version, RunAt: runAt, Holder: s.cfg.ID, Status: http.StatusOK}
	body, err := s.cfg.Runner.Run(ctx, sq, nil, runAt)
	var qe *query.Error
	var tooLarge *store.TooLargeError
	switch {
	case errors.As(err, &qe):
		res.Status, res.Message = http.StatusBadRequest, qe.Name+": "+qe.Message
	case errors.As(err, &tooLarge):
		res.Status, res.Message = http.StatusBadRequest, "the extraction matches more events than one answer holds"
	case err != nil:
		res.Status, res.Message = http.StatusInternalServerError, "the query could not be run: "+err.Error()
	case len(body) > MaxResultBytes:
		res.Status, res.Message = http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the answer has %d bytes, more than the %d a cached answer keeps; it is computed when asked", len(body), MaxResultBytes)
	default:
		res.Body = body
	}
	if res.Status != http.StatusOK {
		s.cfg.Logger.Warn("cached query refresh failed", "project", sq.ProjectID, "query", sq.Name, "status", res.Status, "message", res.Message)
	}
	return res
}
