package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// SavedQuery is a Keen saved query as the registry keeps it: the query's
// parameters as the client gave them (validated by package saved before
// they are stored), parsed again each time it runs.
type SavedQuery struct {
	ProjectID string `json:"project_id"`
	Name      string `json:"name"`
	// Query is the JSON object of query parameters, analysis_type included.
	Query json.RawMessage `json:"query"`
	// RefreshRate is in seconds; 0 is a saved query that is not cached.
	RefreshRate int             `json:"refresh_rate"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Created     time.Time       `json:"created"`
	Modified    time.Time       `json:"modified"`
	// Version is new at every write (PutSavedQuery sets it): a result is
	// of one version of the definition.
	Version string `json:"version"`
}

// SavedResult is the last scheduled run of a cached query. It belongs to
// the definition whose Version it carries: a result of an older
// definition is not served.
type SavedResult struct {
	ProjectID string    `json:"project_id"`
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	RunAt     time.Time `json:"run_at"`
	// Body is the answer's JSON ({"result": …}); empty when the run failed.
	Body json.RawMessage `json:"body,omitempty"`
	// Status is the HTTP status the run would have answered (200 when it
	// succeeded) and Message its error text.
	Status  int    `json:"status"`
	Message string `json:"message,omitempty"`
	// Holder is the scheduler member that ran it.
	Holder string `json:"holder"`
}

// Member is one process taking part in a shared schedule (for cached
// queries): it writes a heartbeat record under its own key, and the live
// member that joined first leads (see package saved).
type Member struct {
	Group   string    `json:"group"`
	ID      string    `json:"id"`
	Joined  time.Time `json:"joined"`
	Beat    time.Time `json:"beat"`
	Expires time.Time `json:"expires"`
}

func savedQueryRecordKey(pid, name string) string  { return "saved_query/" + pid + "/" + name }
func savedResultRecordKey(pid, name string) string { return "saved_result/" + pid + "/" + name }
func memberRecordKey(group, id string) string      { return "member/" + group + "/" + id }

// NameRules are an access key's saved_queries or cached_queries options:
// Allowed, when given, lists the only names the key may use; Blocked the
// names it may not. Filters (saved_queries only) are ANDed into every
// saved query the key runs.
type NameRules struct {
	Allowed []string `json:"allowed,omitempty"`
	Blocked []string `json:"blocked,omitempty"`
	Filters []Filter `json:"filters,omitempty"`
}

// Permits reports whether the rules let the key use the saved query name.
func (n NameRules) Permits(name string) bool {
	if n.Allowed != nil && !slices.Contains(n.Allowed, name) {
		return false
	}
	return !slices.Contains(n.Blocked, name)
}

// parseNameRules validates an access key's saved_queries (withFilters) or
// cached_queries option.
func parseNameRules(option string, raw json.RawMessage, withFilters bool) (NameRules, error) {
	var n NameRules
	if isNull(raw) {
		return n, nil
	}
	if err := strictUnmarshal(raw, &n); err != nil {
		keys := "\"allowed\" and \"blocked\""
		if withFilters {
			keys = "\"allowed\", \"blocked\" and \"filters\""
		}
		return n, invalid("\"options.%s\" must be an object with %s (lists): %s", option, keys, jsonProblem(err))
	}
	if !withFilters && n.Filters != nil {
		return n, invalid("\"options.%s\" has unknown key \"filters\"; allowed: allowed, blocked", option)
	}
	for _, name := range append(slices.Clone(n.Allowed), n.Blocked...) {
		if strings.TrimSpace(name) == "" {
			return n, invalid("\"options.%s\" lists an empty saved query name", option)
		}
	}
	for i, f := range n.Filters {
		if f.PropertyName == "" {
			return n, invalid("\"options.%s.filters[%d]\" needs a \"property_name\"", option, i)
		}
		if !slices.Contains(FilterOperators, f.Operator) {
			return n, invalid("\"options.%s.filters[%d]\" has operator %q; allowed: %s", option, i, f.Operator, strings.Join(FilterOperators, ", "))
		}
	}
	return n, nil
}

// SavedQueryRules are the key's saved_queries options (none when unset).
func (o Options) SavedQueryRules() NameRules {
	n, _ := parseNameRules("saved_queries", o.SavedQueries, true) // validated when the key was stored
	return n
}

// CachedQueryRules are the key's cached_queries options (none when unset).
func (o Options) CachedQueryRules() NameRules {
	n, _ := parseNameRules("cached_queries", o.CachedQueries, false)
	return n
}

// SavedQuery returns one of a project's saved queries.
func (v *View) SavedQuery(pid, name string) (SavedQuery, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return SavedQuery{}, false
	}
	sq, ok := st.saved[name]
	return sq, ok
}

// SavedQueries lists a project's saved queries by name.
func (v *View) SavedQueries(pid string) []SavedQuery {
	st, ok := v.projects[pid]
	if !ok {
		return nil
	}
	out := make([]SavedQuery, 0, len(st.saved))
	for _, sq := range st.saved {
		out = append(out, sq)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CachedQueries lists every project's saved queries with a refresh rate,
// by project and name.
func (v *View) CachedQueries() []SavedQuery {
	var out []SavedQuery
	for _, st := range v.projects {
		for _, sq := range st.saved {
			if sq.RefreshRate > 0 {
				out = append(out, sq)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ProjectID != out[j].ProjectID {
			return out[i].ProjectID < out[j].ProjectID
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// SavedResult returns the last scheduled run of a saved query's current
// definition.
func (v *View) SavedResult(pid, name string) (SavedResult, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return SavedResult{}, false
	}
	sq, ok := st.saved[name]
	res, ok2 := st.results[name]
	if !ok || !ok2 || res.Version != sq.Version {
		return SavedResult{}, false
	}
	return res, true
}

// Members lists a group's members (live or not) by join time, then id.
func (v *View) Members(group string) []Member {
	var out []Member
	for _, m := range v.members[group] {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Joined.Equal(out[j].Joined) {
			return out[i].Joined.Before(out[j].Joined)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// applySaved folds the saved-query, result and member kinds.
func (v *View) applySaved(key []byte, r record) error {
	switch r.Kind {
	case kindSavedQuery:
		sq := r.SavedQuery
		if sq == nil || sq.Name == "" || string(key) != savedQueryRecordKey(sq.ProjectID, sq.Name) {
			return fmt.Errorf("registry record %q: malformed saved query", key)
		}
		st, ok := v.projects[sq.ProjectID]
		if !ok {
			return fmt.Errorf("registry record %q: saved query of unknown project", key)
		}
		st.saved[sq.Name] = *sq
	case kindSavedResult:
		res := r.SavedResult
		if res == nil || string(key) != savedResultRecordKey(res.ProjectID, res.Name) {
			return fmt.Errorf("registry record %q: malformed saved query result", key)
		}
		st, ok := v.projects[res.ProjectID]
		if !ok {
			return fmt.Errorf("registry record %q: result of unknown project", key)
		}
		st.results[res.Name] = *res
	case kindDataset, kindDatasetRun, kindDatasetResult:
		return v.applyDataset(key, r)
	case kindMember:
		m := r.Member
		if m == nil || m.ID == "" || string(key) != memberRecordKey(m.Group, m.ID) {
			return fmt.Errorf("registry record %q: malformed member", key)
		}
		if v.members[m.Group] == nil {
			v.members[m.Group] = map[string]Member{}
		}
		v.members[m.Group][m.ID] = *m
	default:
		return fmt.Errorf("registry record %q: unknown kind %q", key, r.Kind)
	}
	return nil
}

// remove folds a tombstone: the entity its key names is gone. Only saved
// queries, their results, datasets with theirs and members are deleted
// this way.
func (v *View) remove(key []byte) {
	parts := strings.SplitN(string(key), "/", 3)
	if len(parts) != 3 {
		return
	}
	switch parts[0] {
	case "saved_query":
		if st, ok := v.projects[parts[1]]; ok {
			delete(st.saved, parts[2])
		}
	case "saved_result":
		if st, ok := v.projects[parts[1]]; ok {
			delete(st.results, parts[2])
		}
	case kindDataset, kindDatasetRun, kindDatasetResult:
		v.removeDataset(parts[0], parts[1]+"/"+parts[2])
	case "member":
		delete(v.members[parts[1]], parts[2])
	}
}

// PutSavedQuery creates or replaces a saved query of an existing project,
// as a new version, which it returns.
func (r *Registry) PutSavedQuery(ctx context.Context, sq SavedQuery) (SavedQuery, error) {
	if _, ok := r.Project(sq.ProjectID); !ok {
		return SavedQuery{}, ErrNotFound
	}
	sq.Version = randomHex(8)
	if err := r.put(ctx, savedQueryRecordKey(sq.ProjectID, sq.Name), record{Kind: kindSavedQuery, SavedQuery: &sq}); err != nil {
		return SavedQuery{}, err
	}
	return sq, nil
}

// DeleteSavedQuery removes a saved query and its cached result.
func (r *Registry) DeleteSavedQuery(ctx context.Context, pid, name string) error {
	var found bool
	r.Read(func(v *View) { _, found = v.SavedQuery(pid, name) })
	if !found {
		return ErrNotFound
	}
	if err := r.putTombstone(ctx, savedResultRecordKey(pid, name)); err != nil {
		return err
	}
	return r.putTombstone(ctx, savedQueryRecordKey(pid, name))
}

// PutSavedResult stores a cached query's latest run.
func (r *Registry) PutSavedResult(ctx context.Context, res SavedResult) error {
	return r.put(ctx, savedResultRecordKey(res.ProjectID, res.Name), record{Kind: kindSavedResult, SavedResult: &res})
}

// Heartbeat writes a member's heartbeat and returns once the local view
// holds it.
func (r *Registry) Heartbeat(ctx context.Context, m Member) error {
	return r.put(ctx, memberRecordKey(m.Group, m.ID), record{Kind: kindMember, Member: &m})
}

// Leave removes a member's record.
func (r *Registry) Leave(ctx context.Context, group, id string) error {
	return r.putTombstone(ctx, memberRecordKey(group, id))
}
