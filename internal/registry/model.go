// Package registry holds sluice's state: projects, their keys and access
// keys, and stream settings (docs/decisions.md §5). The records live in a
// compacted topic on the backend; every process folds them into a View and
// answers authentication from memory.
package registry

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Project is a tenant: a Keen project with its three built-in keys.
type Project struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Name      string    `json:"name"`
	MasterKey string    `json:"master_key"`
	WriteKey  string    `json:"write_key"`
	ReadKey   string    `json:"read_key"`
	CreatedAt time.Time `json:"created_at"`
}

// AccessKey is Keen's access-key document. Deleted keys stay in the view,
// unable to authenticate, because events they wrote may still be waiting in
// a raw topic for their autofill.
type AccessKey struct {
	Key       string   `json:"key"`
	ProjectID string   `json:"project_id"`
	Name      string   `json:"name"`
	IsActive  bool     `json:"is_active"`
	Permitted []string `json:"permitted"`
	Options   Options  `json:"options"`
	Deleted   bool     `json:"deleted,omitempty"`
}

// Options are the access key's options; Keen returns all five, null when unset.
type Options struct {
	Writes        *WritesOptions  `json:"writes"`
	Queries       *QueriesOptions `json:"queries"`
	SavedQueries  json.RawMessage `json:"saved_queries"`
	CachedQueries json.RawMessage `json:"cached_queries"`
	Datasets      json.RawMessage `json:"datasets"`
}

// WritesOptions carries autofill: an object deep-merged into every event the
// key writes.
type WritesOptions struct {
	Autofill map[string]any `json:"autofill"`
}

// QueriesOptions carries the filters ANDed into every query the key runs.
type QueriesOptions struct {
	Filters []Filter `json:"filters"`
}

// Filter is a Keen query filter.
type Filter struct {
	PropertyName  string `json:"property_name"`
	Operator      string `json:"operator"`
	PropertyValue any    `json:"property_value"`
}

// Streams are a project's stream settings.
type Streams struct {
	OutboundEnabled bool `json:"outbound_enabled"`
}

// Permissions an access key may hold.
const (
	PermWrites        = "writes"
	PermQueries       = "queries"
	PermSavedQueries  = "saved_queries"
	PermCachedQueries = "cached_queries"
	PermDatasets      = "datasets"
	PermSchema        = "schema"
)

// Permissions lists every permission Keen knows, in Keen's order.
var Permissions = []string{PermWrites, PermQueries, PermSavedQueries, PermCachedQueries, PermDatasets, PermSchema}

// FilterOperators are the operators a query filter may use.
var FilterOperators = []string{"eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains", "not_contains", "within", "regex"}

// Permits reports whether the key holds permission p.
func (k *AccessKey) Permits(p string) bool { return slices.Contains(k.Permitted, p) }

// HasQueryFilters reports whether queries made with the key are filtered.
func (k *AccessKey) HasQueryFilters() bool {
	return k.Options.Queries != nil && len(k.Options.Queries.Filters) > 0
}

// AccessKeyInput is the body of create and full replace.
type AccessKeyInput struct {
	Name      *string         `json:"name"`
	IsActive  *bool           `json:"is_active"`
	Permitted []string        `json:"permitted"`
	Options   json.RawMessage `json:"options"`
}

// ValidationError is a refusal of a document; its text is for people.
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

// ParseAccessKeyInput decodes and validates a create or replace body. A full
// replace clears what the body omits, as Keen does.
func ParseAccessKeyInput(body []byte) (AccessKey, error) {
	var in AccessKeyInput
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return AccessKey{}, invalid("the request body is not a valid access key document: %s", jsonProblem(err))
	}
	if dec.More() {
		return AccessKey{}, invalid("the request body holds more than one JSON document")
	}
	var k AccessKey
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return k, invalid("\"name\" is required")
	}
	if len(*in.Name) > 256 {
		return k, invalid("\"name\" must be at most 256 characters")
	}
	k.Name = *in.Name
	k.IsActive = in.IsActive == nil || *in.IsActive
	if len(in.Permitted) == 0 {
		return k, invalid("\"permitted\" must list at least one of %s", strings.Join(Permissions, ", "))
	}
	for _, p := range in.Permitted {
		if !slices.Contains(Permissions, p) {
			return k, invalid("\"permitted\" holds %q; allowed values are %s", p, strings.Join(Permissions, ", "))
		}
		if !slices.Contains(k.Permitted, p) {
			k.Permitted = append(k.Permitted, p)
		}
	}
	opts, err := parseOptions(in.Options)
	if err != nil {
		return k, err
	}
	k.Options = opts
	return k, nil
}

func parseOptions(raw json.RawMessage) (Options, error) {
	var o Options
	if isNull(raw) {
		return o, nil
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return o, invalid("\"options\" must be an object")
	}
	for name, v := range parts {
		switch name {
		case "writes":
			if isNull(v) {
				continue
			}
			var w struct {
				Autofill json.RawMessage `json:"autofill"`
			}
			if err := strictUnmarshal(v, &w); err != nil {
				return o, invalid("\"options.writes\" must be an object with \"autofill\": %s", jsonProblem(err))
			}
			if isNull(w.Autofill) {
				o.Writes = &WritesOptions{}
				continue
			}
			var af map[string]any
			if err := json.Unmarshal(w.Autofill, &af); err != nil {
				return o, invalid("\"options.writes.autofill\" must be a JSON object")
			}
			if _, ok := af["keen"]; ok {
				return o, invalid("\"options.writes.autofill\" may not set the \"keen\" object")
			}
			o.Writes = &WritesOptions{Autofill: af}
		case "queries":
			if isNull(v) {
				continue
			}
			var q QueriesOptions
			if err := strictUnmarshal(v, &q); err != nil {
				return o, invalid("\"options.queries\" must be an object with \"filters\": %s", jsonProblem(err))
			}
			for i, f := range q.Filters {
				if f.PropertyName == "" {
					return o, invalid("\"options.queries.filters[%d]\" needs a \"property_name\"", i)
				}
				if !slices.Contains(FilterOperators, f.Operator) {
					return o, invalid("\"options.queries.filters[%d]\" has operator %q; allowed: %s", i, f.Operator, strings.Join(FilterOperators, ", "))
				}
			}
			o.Queries = &q
		case "saved_queries", "cached_queries", "datasets":
			if isNull(v) {
				continue
			}
			if !isObject(v) {
				return o, invalid("\"options.%s\" must be an object", name)
			}
			switch name {
			case "saved_queries":
				if _, err := parseNameRules(name, v, true); err != nil {
					return o, err
				}
				o.SavedQueries = v
			case "cached_queries":
				if _, err := parseNameRules(name, v, false); err != nil {
					return o, err
				}
				o.CachedQueries = v
			default:
				if _, err := parseDatasetRules(v); err != nil {
					return o, err
				}
				o.Datasets = v
			}
		default:
			return o, invalid("\"options\" has unknown key %q; allowed: writes, queries, saved_queries, cached_queries, datasets", name)
		}
	}
	return o, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func isNull(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) == 0 || string(t) == "null"
}

func isObject(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// jsonProblem turns a decoder error into words without Go type names.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%q has the wrong type (%s)", te.Field, te.Value)
		}
		return fmt.Sprintf("wrong type (%s)", te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	}
	return err.Error()
}

// NewProjectID returns a new 24-lowercase-hex project id.
func NewProjectID() string { return randomHex(12) }

// NewKey returns a new 64-hex key.
func NewKey() string { return randomHex(32) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+).
		panic(err)
	}
	return hex.EncodeToString(b)
}
