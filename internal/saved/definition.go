package saved

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/query"
	"github.com/sluice-io/sluice/internal/registry"
)

// Keen's bounds of a cached query's refresh_rate, in seconds: 0 (not
// cached) or 4 to 48 hours (keen/explorer: "Refresh interval can be set
// from 4 to 48 hours"; the SDKs' minimum is 14400).
const (
	MinRefreshRate = 4 * 60 * 60
	MaxRefreshRate = 48 * 60 * 60
)

// MaxNameLen bounds a saved query's name.
const MaxNameLen = 256

// Per-project bounds (internal/limits).
const (
	MaxSavedQueries  = limits.MaxSavedQueriesPerProject
	MaxCachedQueries = limits.MaxCachedQueriesPerProject
)

// Error names of the bounds: Keen's for cached queries, sluice's own for
// saved ones.
const (
	ErrOverCachedLimit = "OverCachedQueryLimitError"
	ErrOverSavedLimit  = "OverSavedQueryLimitError"
)

// CheckBounds refuses a PUT that would give the project more than
// MaxSavedQueries saved or MaxCachedQueries cached queries. existing are
// the project's saved queries, replaced those the PUT replaces (its own
// name, and the old name of a rename).
func CheckBounds(existing []registry.SavedQuery, def Definition, replaced ...string) error {
	saved, cached := 1, 0
	if def.RefreshRate > 0 {
		cached = 1
	}
	for _, sq := range existing {
		if slices.Contains(replaced, sq.Name) {
			continue
		}
		saved++
		if sq.RefreshRate > 0 {
			cached++
		}
	}
	if saved > MaxSavedQueries {
		return &query.Error{Name: ErrOverSavedLimit, Message: fmt.Sprintf("a project holds at most %d saved queries; delete one first", MaxSavedQueries)}
	}
	if cached > MaxCachedQueries {
		return &query.Error{Name: ErrOverCachedLimit, Message: fmt.Sprintf("a project holds at most %d cached queries (refresh_rate above 0); set another's refresh_rate to 0 or delete one first", MaxCachedQueries)}
	}
	return nil
}

// Error names of refusals that are not the query's own.
const (
	// ErrInvalidRequest is sluice's usual name for a malformed body.
	ErrInvalidRequest = "InvalidRequestError"
)

func refuse(format string, args ...any) error {
	return &query.Error{Name: ErrInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// Definition is what a client may set of a saved query (PUT body).
type Definition struct {
	// Name is the query_name: the path's, or a new one (a rename).
	Name        string
	Query       json.RawMessage // the query's parameters, a JSON object
	RefreshRate int
	Metadata    json.RawMessage // a JSON object, or nil
}

// readOnly are the fields of Keen's saved query document that Keen sets:
// a body carrying one is refused (Keen's SDKs strip them before a PUT).
var readOnly = []string{"created_date", "last_modified_date", "user_last_modified_date", "run_information", "urls", "result"}

// ValidName checks a saved query name (the path segment): 1 to MaxNameLen
// characters, letters, digits, '-', '_' and '.' — the characters Keen's
// Explorer makes names of — so it is one URL path segment as it is.
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return refuse("a saved query name must have 1 to %d characters", MaxNameLen)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return refuse("the saved query name %q may hold only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// ParseDefinition reads a PUT body for the saved query at pathName and
// validates it: the query with the same refusals (and Keen error names) as
// the query API, parsed for project pid at now.
func ParseDefinition(pid, pathName string, body []byte, now time.Time) (Definition, error) {
	d := Definition{Name: pathName}
	if err := ValidName(pathName); err != nil {
		return d, err
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || dec.More() || fields == nil {
		return d, refuse("the request body must be one JSON object: {\"query\": {…}, \"refresh_rate\": …, \"metadata\": {…}}")
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := fields[n]
		switch n {
		case "query":
			d.Query = v
		case "refresh_rate":
			if isNull(v) {
				continue
			}
			if err := json.Unmarshal(v, &d.RefreshRate); err != nil {
				return d, refuse("\"refresh_rate\" must be a whole number of seconds: 0, or %d to %d", MinRefreshRate, MaxRefreshRate)
			}
		case "metadata":
			if isNull(v) {
				continue
			}
			if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
				return d, refuse("\"metadata\" must be a JSON object")
			}
			d.Metadata = v
		case "query_name":
			if isNull(v) {
				continue
			}
			if err := json.Unmarshal(v, &d.Name); err != nil {
				return d, refuse("\"query_name\" must be a string")
			}
			if err := ValidName(d.Name); err != nil {
				return d, err
			}
		default:
			for _, ro := range readOnly {
				if n == ro {
					return d, refuse("%q is set by sluice, not by the client; leave it out of the body", n)
				}
			}
			return d, refuse("%q is not a field of a saved query; the fields are query, refresh_rate, metadata and query_name", n)
		}
	}
	if d.RefreshRate != 0 && (d.RefreshRate < MinRefreshRate || d.RefreshRate > MaxRefreshRate) {
		return d, refuse("\"refresh_rate\" is %d: it must be 0 (not cached) or %d to %d seconds (4 to 48 hours)", d.RefreshRate, MinRefreshRate, MaxRefreshRate)
	}
	if isNull(d.Query) {
		return d, refuse("\"query\" is required: the query's parameters, analysis_type included")
	}
	if _, err := Parse(pid, d.Query, nil, now); err != nil {
		return d, err
	}
	return d, nil
}

// Parse parses a saved query's parameters as the query API would,
// analysis_type naming the analysis. keyFilters are ANDed in.
func Parse(pid string, params json.RawMessage, keyFilters []registry.Filter, now time.Time) (*query.Query, error) {
	if t := bytes.TrimSpace(params); len(t) == 0 || t[0] != '{' {
		return nil, refuse("\"query\" must be a JSON object of query parameters")
	}
	p, err := query.FromJSON(params)
	if err != nil {
		return nil, err
	}
	var analysis string
	if err := json.Unmarshal(p["analysis_type"], &analysis); err != nil || analysis == "" {
		return nil, &query.Error{Name: "InvalidAnalysisTypeError", Message: fmt.Sprintf("\"query.analysis_type\" is required: one of %s", strings.Join(query.Analyses, ", "))}
	}
	return query.Parse(analysis, pid, p, keyFilters, now)
}

func isNull(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) == 0 || string(t) == "null"
}

// dateLayout is how Keen renders a saved query's dates
// ("2015-10-19T20:14:29.797000+00:00").
const dateLayout = "2006-01-02T15:04:05.000000+00:00"

func date(t time.Time) string { return t.UTC().Format(dateLayout) }

// Document is Keen's saved query document.
type Document struct {
	QueryName            string          `json:"query_name"`
	RefreshRate          int             `json:"refresh_rate"`
	Query                json.RawMessage `json:"query"`
	Metadata             json.RawMessage `json:"metadata"`
	CreatedDate          string          `json:"created_date"`
	LastModifiedDate     string          `json:"last_modified_date"`
	UserLastModifiedDate string          `json:"user_last_modified_date"`
	RunInformation       *RunInformation `json:"run_information"`
}

// RunInformation tells when a cached query last ran and will run next
// (null for a saved query that is not cached).
type RunInformation struct {
	LastRunDate    *string `json:"last_run_date"`
	LastRunStatus  *int    `json:"last_run_status"`
	LastRunMessage *string `json:"last_run_message"`
	NextRunDate    string  `json:"next_run_date"`
}

// NewDocument renders a saved query and, for a cached one, its last run
// (nil: not run yet).
func NewDocument(sq registry.SavedQuery, last *registry.SavedResult) Document {
	meta := sq.Metadata
	if isNull(meta) {
		meta = json.RawMessage(`{}`)
	}
	d := Document{
		QueryName: sq.Name, RefreshRate: sq.RefreshRate, Query: sq.Query, Metadata: meta,
		CreatedDate: date(sq.Created), LastModifiedDate: date(sq.Modified), UserLastModifiedDate: date(sq.Modified),
	}
	if sq.RefreshRate > 0 {
		ri := &RunInformation{NextRunDate: date(NextRun(sq, last))}
		if last != nil {
			when, status := date(last.RunAt), last.Status
			ri.LastRunDate, ri.LastRunStatus = &when, &status
			if last.Message != "" {
				msg := last.Message
				ri.LastRunMessage = &msg
			}
		}
		d.RunInformation = ri
	}
	return d
}

// NextRun is when a cached query is due: at once when it has not run since
// its definition changed, else refresh_rate after its last run.
func NextRun(sq registry.SavedQuery, last *registry.SavedResult) time.Time {
	if last == nil || last.Version != sq.Version {
		return sq.Modified
	}
	return last.RunAt.Add(time.Duration(sq.RefreshRate) * time.Second)
}

// Due reports whether a cached query should be recomputed at now.
func Due(sq registry.SavedQuery, last *registry.SavedResult, now time.Time) bool {
	return sq.RefreshRate > 0 && !now.Before(NextRun(sq, last))
}
