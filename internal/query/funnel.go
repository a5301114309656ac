package query

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/store"
)

// stepParams are the parameters of one funnel step.
var stepParams = map[string]bool{
	"event_collection": true, "actor_property": true, "timeframe": true, "timezone": true,
	"filters": true, "optional": true, "inverted": true, "with_actors": true,
}

// parseSteps reads a funnel's steps. A step's timeframe and timezone,
// when it has none, are the funnel's.
func parseSteps(pid string, p Params, loc *time.Location, kf []store.Filter, now time.Time) ([]Step, error) {
	if !p.given("steps") {
		return nil, invalid(`"steps" is required for funnel: [{"event_collection", "actor_property", …}, …]`)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(p["steps"], &raw); err != nil || len(raw) == 0 {
		return nil, invalid(`"steps" must be a non-empty array of {"event_collection", "actor_property", "timeframe", "timezone", "filters", "optional", "inverted", "with_actors"}`)
	}
	steps := make([]Step, 0, len(raw))
	for i, r := range raw {
		st, err := parseStep(pid, Params(r), p, loc, kf, now)
		if err != nil {
			return nil, prefix(fmt.Sprintf("step %d: ", i), err)
		}
		if i == 0 && (st.Optional || st.Inverted) {
			return nil, invalid(`step 0: the first step of a funnel can be neither "optional" nor "inverted"`)
		}
		steps = append(steps, st)
	}
	return steps, nil
}

func parseStep(pid string, sp, root Params, loc *time.Location, kf []store.Filter, now time.Time) (Step, error) {
	for name := range sp {
		if !stepParams[name] {
			return Step{}, invalid("%q is not a parameter of a funnel step", name)
		}
	}
	var st Step
	q := &st.Query
	q.ProjectID = pid
	q.Analysis = store.SelectUnique
	var err error
	if q.Collection, err = sp.str("event_collection"); err != nil {
		return st, err
	}
	if q.Collection == "" {
		return st, invalid(`"event_collection" is required`)
	}
	actor, err := sp.str("actor_property")
	if err != nil {
		return st, err
	}
	if actor == "" {
		return st, invalid(`"actor_property" is required`)
	}
	if q.Target, err = propertyPath("actor_property", actor); err != nil {
		return st, err
	}
	tz, tf := root["timezone"], root["timeframe"]
	if sp.given("timezone") {
		tz = sp["timezone"]
		if loc, err = timezone(tz); err != nil {
			return st, err
		}
	}
	if sp.given("timeframe") {
		tf = sp["timeframe"]
	}
	if q.Start, q.End, err = timeframe(tf, now, loc); err != nil {
		return st, err
	}
	if q.Filters, err = parseFilters(sp["filters"]); err != nil {
		return st, err
	}
	q.Filters = append(q.Filters, kf...)
	if st.Optional, err = sp.boolean("optional"); err != nil {
		return st, err
	}
	if st.Inverted, err = sp.boolean("inverted"); err != nil {
		return st, err
	}
	if st.WithActors, err = sp.boolean("with_actors"); err != nil {
		return st, err
	}
	filters := json.RawMessage("[]")
	if sp.given("filters") {
		filters = sp["filters"]
	}
	st.Echo = map[string]any{
		"event_collection": q.Collection, "actor_property": actor,
		"timeframe": orNull(tf), "timezone": orNull(tz), "filters": filters,
		"optional": st.Optional, "inverted": st.Inverted, "with_actors": st.WithActors,
	}
	return st, nil
}

func orNull(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return json.RawMessage("null")
	}
	return raw
}

// FunnelTooLarge is the error_code of a funnel step with more than
// Query.MaxActors actors (sluice's own name: Keen documents no
// such bound).
const FunnelTooLarge = "FunnelTooLargeError"

// runFunnel computes a funnel from each step's actors (the distinct values
// of its actor property):
//   - the first step counts its actors;
//   - a later step counts the actors of the funnel so far who are among
//     its actors, or, inverted, who are not;
//   - an optional step is counted but does not narrow the funnel: the
//     next step starts from the actors before it;
//   - with_actors lists the step's counted actors (sorted) in "actors",
//     null for the other steps; "actors" is there when a step asks.
func runFunnel(ctx context.Context, st store.Store, q *Query) (map[string]any, error) {
	result := make([]int, len(q.Steps))
	actors := make([]any, len(q.Steps))
	echo := make([]any, len(q.Steps))
	var cur map[string]any
	withActors := false
	for i, step := range q.Steps {
		echo[i] = step.Echo
		mine, err := stepActors(ctx, st, i, step.Query, q.MaxActors)
		if err != nil {
			return nil, err
		}
		counted := mine
		if i > 0 {
			counted = map[string]any{}
			for k, v := range cur {
				if _, in := mine[k]; in != step.Inverted {
					counted[k] = v
				}
			}
		}
		result[i] = len(counted)
		if step.WithActors {
			withActors = true
			list := make([]any, 0, len(counted))
			for _, v := range counted {
				list = append(list, v)
			}
			sortValues(list)
			actors[i] = list
		}
		if !step.Optional {
			cur = counted
		}
	}
	out := map[string]any{"result": result, "steps": echo}
	if withActors {
		out["actors"] = actors
	}
	return out, nil
}

// stepActors is a step's actors by key, at most maxActors (counted first,
// so a step over it is refused before its actors are read).
func stepActors(ctx context.Context, st store.Store, i int, q store.Query, maxActors int64) (map[string]any, error) {
	cq := q
	cq.Analysis = store.CountUnique
	res, err := st.Run(ctx, cq)
	if err != nil {
		return nil, fmt.Errorf("counting the actors of funnel step %d: %w", i, err)
	}
	if n := asInt(rowsValue(res.Rows)); n > maxActors {
		return nil, refuse(FunnelTooLarge, "funnel step %d has %d distinct actors, more than the %d a funnel step may have; narrow its timeframe or filters", i, n, maxActors)
	}
	res, err = st.Run(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("selecting the actors of funnel step %d: %w", i, err)
	}
	set := map[string]any{}
	if v, ok := rowsValue(res.Rows).([]any); ok {
		for _, a := range v {
			set[valueKey(a)] = a
		}
	}
	return set, nil
}

func rowsValue(rows []store.Row) any {
	if len(rows) == 0 {
		return nil
	}
	return rows[0].Value
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}
