package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/store"
)

// Model is an in-memory store.Store that evaluates queries directly over
// the decoded events, as query.go defines them: the reference the suite
// checks engines against, and a fast store for other packages' tests.
// It is safe for concurrent use.
//
// Where the contract leaves a choice open, Model decides as follows:
//   - Idempotence is on (project, keen.id) across collections; an event
//     deleted (by collection or by filter) is forgotten, so inserting it
//     again stores it again.
//   - Existing's JSON is the event's JSON as stored now (after any property
//     deletion).
//   - Schema lists the leaf types a collection's events have had since the
//     collection was created: deleting events does not remove properties,
//     deleting a property does. keen.id is not listed (it is not a leaf);
//     keen.timestamp and keen.created_at are, as leaf.String.
//   - An extraction over both MaxEvents and MaxBytes fails with Events set
//     (the suite accepts either).
//   - Percentile p's rank floor(p/100 × (n−1)) is computed exactly, p
//     taken as the decimal it prints as (float64 arithmetic gives 28 for
//     p = 29, n = 101).
//   - A query the contract gives no meaning to is refused with an error:
//     an unknown analysis or operator, a missing target, a percentile
//     outside 0–100, group_by or buckets on an extraction, Latest or the
//     extraction bounds on another analysis, fewer than two or unordered
//     bucket boundaries, an "or" without filters, a filter value of a
//     type its operator does not take (lt on a boolean, contains on a
//     number, exists on anything but a boolean, in on a non-list, within
//     on anything but a store.Geo), an invalid regex.
//   - Deleting keen.id, keen.timestamp or keen.created_at is refused.
//   - Source positions are not used: keen.id alone tells a stored event.
type Model struct {
	mu       sync.RWMutex
	projects map[string]*modelProject
	closed   bool
}

type modelProject struct {
	ids   map[string]*modelEvent // keen.id → stored event
	colls map[string]*modelColl
}

type modelColl struct {
	events []*modelEvent // in insertion order
	tokens map[string]tokenHolder
	schema map[string]map[string]bool // "a.b" → leaf types
}

// tokenHolder is the accepted event that holds a uniqueness token: the
// most recent one (by CreatedAt) that carried it.
type tokenHolder struct {
	id      string
	created time.Time
}

type modelEvent struct {
	ev   store.Event // JSON is the stored JSON
	doc  map[string]any
	coll string
}

// NewModel returns an empty Model.
func NewModel() *Model { return &Model{projects: map[string]*modelProject{}} }

var errClosed = errors.New("storetest: the model store is closed")

// decodeEvent decodes an event's JSON, numbers as json.Number.
func decodeEvent(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("the event JSON is not an object")
	}
	if _, err := d.Token(); err == nil {
		return nil, errors.New("trailing data after the event JSON")
	}
	return doc, nil
}

// Insert stores events idempotently on (project, keen.id); an event whose
// uniqueness token is held in its collection by another event created less
// than store.UniquenessWindow before it is a Duplicate. An error (a
// missing project, collection or keen.id, malformed JSON) stores nothing.
func (m *Model) Insert(ctx context.Context, events []store.Event) (store.InsertResult, error) {
	var res store.InsertResult
	if err := ctx.Err(); err != nil {
		return res, err
	}
	docs := make([]map[string]any, len(events))
	for i := range events {
		ev := &events[i]
		if ev.ID == "" || ev.ProjectID == "" || ev.Collection == "" {
			return res, fmt.Errorf("storetest: event %d: project, collection and keen.id are required", i)
		}
		doc, err := decodeEvent(ev.JSON)
		if err != nil {
			return res, fmt.Errorf("storetest: event %d: decoding its JSON: %w", i, err)
		}
		docs[i] = doc
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return res, errClosed
	}
	res.Outcomes = make([]store.Outcome, len(events))
	for i := range events {
		ev := events[i]
		p := m.projects[ev.ProjectID]
		if p == nil {
			p = &modelProject{ids: map[string]*modelEvent{}, colls: map[string]*modelColl{}}
			m.projects[ev.ProjectID] = p
		}
		if old, ok := p.ids[ev.ID]; ok {
			res.Outcomes[i] = store.Outcome{Status: store.Existing, JSON: slices.Clone(old.ev.JSON)}
			continue
		}
		c := p.colls[ev.Collection]
		if c == nil {
			c = &modelColl{tokens: map[string]tokenHolder{}, schema: map[string]map[string]bool{}}
			p.colls[ev.Collection] = c
		}
		created := ev.CreatedAt.UTC()
		if tok := ev.UniquenessToken; tok != "" {
			if h, ok := c.tokens[tok]; ok && h.id != ev.ID && created.Before(h.created.Add(store.UniquenessWindow)) {
				res.Outcomes[i] = store.Outcome{Status: store.Duplicate}
				continue
			}
			c.tokens[tok] = tokenHolder{id: ev.ID, created: created}
		}
		ev.JSON = slices.Clone(ev.JSON)
		ev.Leaves = nil
		me := &modelEvent{ev: ev, doc: docs[i], coll: ev.Collection}
		c.events = append(c.events, me)
		p.ids[ev.ID] = me
		addSchema(c.schema, nil, docs[i])
		res.Outcomes[i] = store.Outcome{Status: store.Stored}
	}
	return res, nil
}

// addSchema records the leaf types of v, the value at path.
func addSchema(schema map[string]map[string]bool, path []string, v any) {
	if obj, ok := v.(map[string]any); ok {
		for k, c := range obj {
			addSchema(schema, append(path[:len(path):len(path)], k), c)
		}
		return
	}
	name := strings.Join(path, ".")
	if name == "keen.id" {
		return
	}
	types := schema[name]
	if types == nil {
		types = map[string]bool{}
		schema[name] = types
	}
	types[leafType(v)] = true
}

// leafType is the package leaf type of a non-object value.
func leafType(v any) string {
	switch x := v.(type) {
	case string:
		return leaf.String
	case json.Number:
		return leaf.Number
	case bool:
		return leaf.Bool
	case nil:
		return leaf.Null
	case []any:
		if _, ok := strArray(x); ok {
			return leaf.StrArray
		}
		return leaf.JSONArray
	}
	panic(fmt.Sprintf("storetest: unexpected decoded JSON value %T", v))
}

// Schema lists the project's collections (sorted by name) and their
// properties' leaf types (sorted).
func (m *Model) Schema(ctx context.Context, project string) ([]store.Collection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errClosed
	}
	p := m.projects[project]
	if p == nil {
		return nil, nil
	}
	var out []store.Collection
	for name, c := range p.colls {
		col := store.Collection{Name: name, Properties: map[string][]string{}}
		for path, types := range c.schema {
			ts := make([]string, 0, len(types))
			for t := range types {
				ts = append(ts, t)
			}
			slices.Sort(ts)
			col.Properties[path] = ts
		}
		out = append(out, col)
	}
	slices.SortFunc(out, func(a, b store.Collection) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete removes a collection, a property of a collection's events, or
// the events of a collection that match a query's timeframe and filters.
func (m *Model) Delete(ctx context.Context, d store.Deletion) (store.Deleted, error) {
	var res store.Deleted
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if d.ProjectID == "" || d.Collection == "" {
		return res, errors.New("storetest: a deletion names a project and a collection")
	}
	if len(d.Property) > 0 && d.Events != nil {
		return res, errors.New("storetest: a deletion removes a property or events, not both")
	}
	var match func(*modelEvent) bool
	if d.Events != nil {
		var err error
		if match, err = compileSelection(*d.Events); err != nil {
			return res, fmt.Errorf("storetest: deleting events: %w", err)
		}
	}
	if len(d.Property) > 0 {
		switch name := strings.Join(d.Property, "."); name {
		case "keen.id", "keen.timestamp", "keen.created_at":
			return res, fmt.Errorf("storetest: the property %s cannot be deleted", name)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return res, errClosed
	}
	p := m.projects[d.ProjectID]
	if p == nil || p.colls[d.Collection] == nil {
		return res, nil
	}
	c := p.colls[d.Collection]
	switch {
	case len(d.Property) > 0:
		for _, e := range c.events {
			if !removeFromDoc(e.doc, d.Property) {
				continue
			}
			b, err := removeJSONPath(e.ev.JSON, d.Property)
			if err != nil {
				return res, fmt.Errorf("storetest: deleting %s from event %s: %w", strings.Join(d.Property, "."), e.ev.ID, err)
			}
			e.ev.JSON = b
		}
		name := strings.Join(d.Property, ".")
		for path := range c.schema {
			if path == name || strings.HasPrefix(path, name+".") {
				delete(c.schema, path)
			}
		}
	case d.Events != nil:
		kept := c.events[:0]
		for _, e := range c.events {
			if match(e) {
				delete(p.ids, e.ev.ID)
				res.Events++
				continue
			}
			kept = append(kept, e)
		}
		clear(c.events[len(kept):])
		c.events = kept
	default:
		for _, e := range c.events {
			delete(p.ids, e.ev.ID)
		}
		res.Events = int64(len(c.events))
		delete(p.colls, d.Collection)
	}
	return res, nil
}

// Close marks the store closed: later calls fail.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// removeFromDoc deletes path from doc, saying whether it was there.
func removeFromDoc(doc map[string]any, path []string) bool {
	cur := doc
	for _, k := range path[:len(path)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return false
		}
		cur = next
	}
	last := path[len(path)-1]
	if _, ok := cur[last]; !ok {
		return false
	}
	delete(cur, last)
	return true
}

// removeJSONPath returns doc, a valid JSON object, without the member at
// path (every occurrence of a repeated key); the rest is kept byte for
// byte.
func removeJSONPath(doc []byte, path []string) ([]byte, error) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return doc, nil
	}
	var out []byte
	out = append(out, doc[:i+1]...)
	i++
	first := true
	for {
		i = skipSpace(doc, i)
		if i >= len(doc) {
			return nil, errors.New("unterminated object")
		}
		if doc[i] == '}' {
			return append(out, doc[i:]...), nil
		}
		if doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
		kStart := i
		kEnd, err := skipValue(doc, i)
		if err != nil {
			return nil, err
		}
		var key string
		if err := json.Unmarshal(doc[kStart:kEnd], &key); err != nil {
			return nil, fmt.Errorf("reading a key: %w", err)
		}
		i = skipSpace(doc, kEnd)
		if i >= len(doc) || doc[i] != ':' {
			return nil, errors.New("a key without a value")
		}
		vStart := skipSpace(doc, i+1)
		vEnd, err := skipValue(doc, vStart)
		if err != nil {
			return nil, err
		}
		i = vEnd
		if key != path[0] {
			if !first {
				out = append(out, ',')
			}
			out = append(out, doc[kStart:vEnd]...)
			first = false
			continue
		}
		if len(path) == 1 {
			continue // dropped
		}
		v, err := removeJSONPath(doc[vStart:vEnd], path[1:])
		if err != nil {
			return nil, err
		}
		if !first {
			out = append(out, ',')
		}
		out = append(out, doc[kStart:vStart]...)
		out = append(out, v...)
		first = false
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("a value is missing")
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errors.New("unterminated string")
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipValue(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	default:
		j := i
		for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
			j++
		}
		return j, nil
	}
}
