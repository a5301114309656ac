package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
)

// storedProject is what storing one project's events of a batch gave.
type storedProject struct {
	// outcomes are the store's, by index in the project's events (zero
	// for an event not inserted: see refused).
	outcomes []store.Outcome
	// refused are the events not stored, by index in the project's
	// events, with the error their dead letter carries: refused by the
	// store (store.Refused), by a verdict, or failing it alone (ErrStore).
	refused map[int]*event.Error
}

func newStoredProject(n int) *storedProject {
	return &storedProject{outcomes: make([]store.Outcome, n), refused: map[int]*event.Error{}}
}

// add merges the result of an Insert of the events at idx.
func (s *storedProject) add(res store.InsertResult, idx []int) error {
	if len(res.Outcomes) != len(idx) {
		return fmt.Errorf("the store gave %d outcomes for %d events", len(res.Outcomes), len(idx))
	}
	for i, o := range res.Outcomes {
		if o.Status == store.Refused {
			s.refused[idx[i]] = &event.Error{Name: o.Name, Message: o.Message}
			continue
		}
		s.outcomes[idx[i]] = o
	}
	return nil
}

// storeAttempt is what storing a batch's projects learned.
type storeAttempt struct {
	works   bool           // some Insert succeeded
	failing []failingEvent // events an Insert failed on alone
}

type failingEvent struct {
	pb  *projectBatch
	idx int
	err error
}

// errBisectBudget ends a bisection that used up its Inserts.
var errBisectBudget = errors.New("the store failed on too many parts of the batch to find which events it fails on")

// storeAll validates and stores every project's records, one project
// after the other in the batch's order (smallest first), one Insert per
// project; a record that cannot be processed at all fails the batch. An
// Insert that keeps failing (the batch's PipelineStoreAttempts-th attempt)
// is bisected, in order, to find the events the store fails on: when the
// store took other events meanwhile, those are poison (they become dead
// letters with the store's error, and are not inserted again); when it
// took none, the store is down and the batch fails, to be retried.
// isolated says new poison was found.
func (p *Pipeline) storeAll(ctx context.Context, b *batch) (out map[*projectBatch]*storedProject, isolated bool, err error) {
	out = map[*projectBatch]*storedProject{}
	var a storeAttempt
	var errs []error
	for _, pb := range b.projects {
		p.stage(StageValidating)
		t0 := time.Now()
		err := p.validate(pb)
		b.validating += time.Since(t0)
		if err != nil {
			return nil, false, err
		}
		p.stage(StageStoring)
		sp, err := p.storeProject(ctx, pb, &a)
		out[pb] = sp
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	if len(a.failing) > 0 {
		if !a.works {
			errs = append(errs, fmt.Errorf("the store fails on every insert (%d events failed alone): %w", len(a.failing), a.failing[0].err))
		} else {
			for _, f := range a.failing {
				ev := f.pb.events[f.idx]
				refusal := &event.Error{Name: ErrStore, Message: "the store failed on this event: " + f.err.Error()}
				p.poison.note(sourcePos(ev.Source)).refused = refusal
				out[f.pb].refused[f.idx] = refusal
				p.log.Warn("the store fails on an event while it takes others; the event becomes a dead letter",
					"project", f.pb.id, "collection", ev.Collection, "keen.id", ev.ID, "err", f.err)
			}
			isolated = true
		}
	}
	return out, isolated, errors.Join(errs...)
}

// storeProject inserts a project's events, leaving out those a verdict
// says the store refuses.
func (p *Pipeline) storeProject(ctx context.Context, pb *projectBatch, a *storeAttempt) (*storedProject, error) {
	sp := newStoredProject(len(pb.events))
	evs := make([]store.Event, 0, len(pb.events))
	idx := make([]int, 0, len(pb.events))
	for i, ev := range pb.events {
		if v := p.poison.get(sourcePos(ev.Source)); v != nil && v.refused != nil {
			sp.refused[i] = v.refused
			continue
		}
		evs = append(evs, ev)
		idx = append(idx, i)
	}
	if len(evs) == 0 {
		return sp, nil
	}
	wrap := func(err error) error { return fmt.Errorf("storing %d events of project %s: %w", len(evs), pb.id, err) }
	res, err := p.cfg.Store.Insert(ctx, evs)
	if err == nil {
		a.works = true
		p.cfg.Metrics.stored(pb.id, res)
		if err := sp.add(res, idx); err != nil {
			return sp, wrap(err)
		}
		p.rememberRefusals(pb, sp)
		return sp, nil
	}
	if ctx.Err() != nil || storeDown(err) || p.health.failures()+1 < limits.PipelineStoreAttempts {
		return sp, wrap(err)
	}
	budget := limits.PipelineBisectInserts
	if err := p.bisect(ctx, pb, evs, idx, err, &budget, sp, a); err != nil {
		return sp, wrap(err)
	}
	p.rememberRefusals(pb, sp)
	return sp, nil
}

// bisect inserts evs (which failed as a whole with err) in two halves, in
// order, and each half that fails again in halves, down to single events,
// which are noted as failing.
func (p *Pipeline) bisect(ctx context.Context, pb *projectBatch, evs []store.Event, idx []int, err error, budget *int, sp *storedProject, a *storeAttempt) error {
	if len(evs) == 1 {
		a.failing = append(a.failing, failingEvent{pb: pb, idx: idx[0], err: err})
		return nil
	}
	half := len(evs) / 2
	for _, part := range [2][2]int{{0, half}, {half, len(evs)}} {
		if *budget == 0 {
			return fmt.Errorf("%w (%d inserts): %w", errBisectBudget, limits.PipelineBisectInserts, err)
		}
		*budget--
		pevs, pidx := evs[part[0]:part[1]], idx[part[0]:part[1]]
		res, perr := p.cfg.Store.Insert(ctx, pevs)
		if perr == nil {
			a.works = true
			p.cfg.Metrics.stored(pb.id, res)
			if err := sp.add(res, pidx); err != nil {
				return err
			}
			continue
		}
		if ctx.Err() != nil || storeDown(perr) {
			return perr
		}
		if err := p.bisect(ctx, pb, pevs, pidx, perr, budget, sp, a); err != nil {
			return err
		}
	}
	return nil
}

// rememberRefusals keeps the store's refusals as verdicts, so that the
// batch, if processed again, gives them the same outcome whatever the
// store then reports for them.
func (p *Pipeline) rememberRefusals(pb *projectBatch, sp *storedProject) {
	for i, e := range sp.refused {
		v := p.poison.note(sourcePos(pb.events[i].Source))
		if v.refused == nil {
			v.refused = e
		}
	}
}
