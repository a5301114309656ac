package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/store"
)

// ensureTable creates a collection's table if it is missing.
func (s *Store) ensureTable(ctx context.Context, tbl string) error {
	err := s.createTable(ctx, tbl, colID+" String, "+colTS+" Int64, "+colCreated+" Int64, "+colJSON+" String, "+
		colKeys+" Array(String), "+colV+" UInt64", "ReplacingMergeTree("+colV+") ORDER BY "+colID)
	if err != nil {
		return fmt.Errorf("clickhouse store: creating table %s: %w", tbl, err)
	}
	return nil
}

// columns returns the leaf columns of a table (leaf key → column name)
// that every server has (on a cluster, in its local and its Distributed
// table: a column added on some servers only, by a node that stopped
// half-way, is added again by the next Insert that needs it); nil when
// no server has the table.
func (s *Store) columns(ctx context.Context, tbl string) (map[string]string, error) {
	names := []string{tbl}
	if s.cluster != "" {
		names = append(names, tbl+localSuffix)
	}
	seen := map[string]int{}
	found := false
	// A replica that is down is not asked: its shard is served by
	// another, and it gets the columns from ZooKeeper when it is back.
	servers, err := s.onLive(func(c driver.Conn) error {
		rows, err := c.Query(ctx, "SELECT name FROM system.columns WHERE database = "+str(unquote(s.db))+" AND table IN ("+strList(names)+")")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return err
			}
			found = true
			seen[name]++
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: reading the columns of %s: %w", tbl, err)
	}
	if !found {
		return nil, nil
	}
	cols := map[string]string{}
	for name, n := range seen {
		if k, ok := columnKey(name); ok && n == servers*len(names) {
			cols[k] = name
		}
	}
	return cols, nil
}

func unquote(q string) string { return strings.Trim(q, "`") }

// ensureColumns adds the columns of keys a table lacks. Another node may
// add the same column at the same time: its "already exists" is success.
func (s *Store) ensureColumns(ctx context.Context, tbl string, cols map[string]string, keys []string) error {
	for _, k := range keys {
		if _, ok := cols[k]; ok {
			continue
		}
		_, typ := leaf.SplitKey(k)
		ct, err := columnType(typ)
		if err != nil {
			return err
		}
		name := columnName(k)
		if err := s.alterTable(ctx, tbl, "ADD COLUMN "+name+" "+ct, alreadyExists); err != nil {
			return fmt.Errorf("clickhouse store: adding column %s to %s: %w", name, tbl, err)
		}
		cols[k] = name
	}
	return nil
}

// ErrPropertyLimit is the Keen-style name of a refusal for too many
// properties (store.Outcome.Name of a store.Refused event).
const ErrPropertyLimit = "PropertyLimitError"

// refuseWide returns why an event with leaves fs would take its
// collection, whose table has cols and gains added from the events
// accepted before it in this Insert, over MaxPropertiesPerCollection
// columns; "" when it does not (its new columns are then added to added).
func (s *Store) refuseWide(fs []leaf.Field, cols map[string]string, added map[string]bool, collection string) string {
	fresh := map[string]bool{}
	for _, f := range fs {
		if _, ok := cols[f.Key]; !ok && !added[f.Key] {
			fresh[f.Key] = true
		}
	}
	have := len(cols) + len(added)
	if len(fresh) == 0 || have+len(fresh) <= s.maxProps {
		for k := range fresh {
			added[k] = true
		}
		return ""
	}
	what := "properties"
	if len(fresh) == 1 {
		what = "property"
	}
	return fmt.Sprintf("the event would add %d %s to collection %q, which has %d of the %d it may have (one per property path and JSON type); the event was not stored",
		len(fresh), what, collection, have, s.maxProps)
}

type pending struct {
	ev     *store.Event
	tbl    string
	leaves []leaf.Field
}

// Insert stores events (store.Store). Per process, Inserts are serialised;
// see docs/clickhouse.md for what holds across nodes.
func (s *Store) Insert(ctx context.Context, events []store.Event) (store.InsertResult, error) {
	var res store.InsertResult
	tbls := make([]string, len(events))
	leaves := make([][]leaf.Field, len(events))
	for i := range events {
		ev := &events[i]
		if ev.ID == "" || ev.ProjectID == "" || ev.Collection == "" {
			return res, fmt.Errorf("clickhouse store: event %d: project, collection and keen.id are required", i)
		}
		t, err := tableName(ev.ProjectID, ev.Collection)
		if err != nil {
			return res, err
		}
		tbls[i] = t
		if ev.Leaves != nil {
			leaves[i] = ev.Leaves
		} else {
			var f leaf.Flattener
			if leaves[i], err = f.Flatten(ev.JSON, ev.ValidUTF8, nil); err != nil {
				return res, fmt.Errorf("clickhouse store: event %d (%s): %w", i, ev.ID, err)
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	tableCols := map[string]map[string]string{}
	added := map[string]map[string]bool{} // per table, the new columns of the events accepted so far
	for _, t := range tbls {
		if _, ok := tableCols[t]; ok {
			continue
		}
		cols, err := s.columns(ctx, t)
		if err != nil {
			return res, err
		}
		if cols == nil {
			cols = map[string]string{}
		}
		tableCols[t], added[t] = cols, map[string]bool{}
	}
	stored, err := s.storedJSON(ctx, events)
	if err != nil {
		return res, err
	}
	holders, err := s.tokenHolders(ctx, events)
	if err != nil {
		return res, err
	}

	res.Outcomes = make([]store.Outcome, len(events))
	var fresh []pending
	for i := range events {
		ev := &events[i]
		// First, whatever else becomes of the event, so that a refused
		// event is refused again when processed again: the columns can
		// only have grown since, and a stored event needs no new one.
		if msg := s.refuseWide(leaves[i], tableCols[tbls[i]], added[tbls[i]], ev.Collection); msg != "" {
			res.Outcomes[i] = store.Outcome{Status: store.Refused, Name: ErrPropertyLimit, Message: msg}
			continue
		}
		idk := ev.ProjectID + "\x00" + ev.ID
		if js, ok := stored[idk]; ok {
			res.Outcomes[i] = store.Outcome{Status: store.Existing, JSON: slices.Clone(js)}
			continue
		}
		created := ev.CreatedAt.UnixMilli()
		if ev.UniquenessToken != "" {
			tk := tokenKey{ev.ProjectID, ev.Collection, ev.UniquenessToken}
			if h, ok := holders[tk]; ok && h.id != ev.ID && created < h.created+store.UniquenessWindow.Milliseconds() {
				res.Outcomes[i] = store.Outcome{Status: store.Duplicate}
				continue
			}
			holders[tk] = holder{id: ev.ID, created: created, changed: true}
		}
		stored[idk] = ev.JSON
		fresh = append(fresh, pending{ev: ev, tbl: tbls[i], leaves: leaves[i]})
		res.Outcomes[i] = store.Outcome{Status: store.Stored}
	}
	// Claims first, then events: a crash in between leaves claims
	// without events, and whoever processes the events again writes them
	// (Existing needs the stored event). Before writing, a writer that
	// finds a claim of one of its keen.ids by another writer (one that
	// died after claiming, or one racing on the same partition) marks the
	// table, so that queries read it with FINAL (dirty.go). Of two
	// writers of one keen.id, the second to read the claims sees both.
	v := version()
	if err := s.writeClaims(ctx, fresh, v); err != nil {
		return store.InsertResult{}, err
	}
	rivals, err := s.rivalTables(ctx, fresh, v)
	if err != nil {
		return store.InsertResult{}, err
	}
	if len(rivals) > 0 {
		if err := s.markDirty(ctx, rivals, v); err != nil {
			return store.InsertResult{}, err
		}
	}
	if err := s.writeEvents(ctx, fresh, tableCols, v); err != nil {
		return store.InsertResult{}, err
	}
	if len(rivals) > 0 {
		s.markDone(ctx, rivals, v)
	}
	if err := s.writeTokens(ctx, holders); err != nil {
		return store.InsertResult{}, err
	}
	return res, nil
}

// storedJSON returns the stored JSON of the events' keen.ids that are
// claimed and stored, keyed by project + "\x00" + keen.id.
func (s *Store) storedJSON(ctx context.Context, events []store.Event) (map[string][]byte, error) {
	byProject := map[string][]*store.Event{}
	for i := range events {
		byProject[events[i].ProjectID] = append(byProject[events[i].ProjectID], &events[i])
	}
	out := map[string][]byte{}
	for p, evs := range byProject {
		byTable := map[string][]string{}
		for _, cond := range claimFilters(p, evs) {
			q := "SELECT DISTINCT id, tbl FROM " + s.db + "." + claimsTable + " WHERE " + cond
			if err := s.each(lookupCtx(ctx), q, func(scan func(...any) error) error {
				var id, tbl string
				if err := scan(&id, &tbl); err != nil {
					return err
				}
				byTable[tbl] = append(byTable[tbl], id)
				return nil
			}); err != nil {
				return nil, fmt.Errorf("clickhouse store: looking up stored keen.ids: %w", err)
			}
		}
		for tbl, ids := range byTable {
			for _, set := range inSets(ids) {
				// The newest copy, when a table holds two (dirty.go).
				q := "SELECT " + colID + ", argMax(" + colJSON + ", " + colV + ") FROM " + s.db + "." + tbl + " WHERE " + colID + " IN " + set + " GROUP BY " + colID
				if err := s.each(lookupCtx(ctx), q, func(scan func(...any) error) error {
					var id, js string
					if err := scan(&id, &js); err != nil {
						return err
					}
					out[p+"\x00"+id] = []byte(js)
					return nil
				}); err != nil && !isUnknownTable(err) {
					return nil, fmt.Errorf("clickhouse store: reading stored events: %w", err)
				}
			}
		}
	}
	return out, nil
}

func isUnknownTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "doesn't exist")
}

func strList(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = str(s)
	}
	return strings.Join(parts, ", ")
}

// maxInList bounds the text of one IN list: a statement must stay under
// the server's max_query_size (256 KiB by default), and an Insert may
// carry 40,000 keen.ids.
const maxInList = 128 << 10

// inLists returns values as string-literal lists for IN (…), each under
// maxInList bytes (a longer value goes alone).
func inLists(values []string) []string {
	var out []string
	var b strings.Builder
	for _, v := range values {
		lit := str(v)
		if b.Len() > 0 && b.Len()+2+len(lit) > maxInList {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(lit)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// maxSet bounds the text of one set of inSets. A lookup of keen.ids,
// which are random, reads about every granule of the claims whatever the
// set's size, so an Insert's lookup is one statement however many events
// it has (up to 40,000 of 24 bytes: 1.1 MB); lookupCtx raises the
// statement's max_query_size to hold it.
const maxSet = 4 << 20

// lookupCtx is ctx for a statement holding one set of inSets.
func lookupCtx(ctx context.Context) context.Context {
	return ch.Context(ctx, ch.WithSettings(ch.Settings{"max_query_size": 2 * maxSet}))
}

// inSets returns values as sets for IN, each a statement's text under
// maxSet bytes: a subquery splitting one string literal at a byte no
// value of the set holds, so that the server parses one literal rather
// than thousands (35 ms against 10 ms for 4,500 keen.ids on 18.16; the
// primary key is used either way). A set whose values hold every
// candidate separator is a literal list.
func inSets(values []string) []string {
	var out []string
	var cur []string
	size := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, inSet(cur))
			cur, size = nil, 0
		}
	}
	for _, v := range values {
		n := len(str(v)) // as escaped in the literal, and a separator
		if size > 0 && size+n > maxSet {
			flush()
		}
		cur = append(cur, v)
		size += n
	}
	flush()
	return out
}

// separators are the bytes inSet may split at.
const separators = ",;|\x01\x02\x03\x1f"

func inSet(values []string) string {
	for i := 0; i < len(separators); i++ {
		sep := separators[i : i+1]
		if !slices.ContainsFunc(values, func(v string) bool { return strings.Contains(v, sep) }) {
			return "(SELECT arrayJoin(splitByChar(" + str(sep) + ", " + str(strings.Join(values, sep)) + ")))"
		}
	}
	return "(" + strList(values) + ")"
}

type holder struct {
	id      string
	created int64 // Unix ms
	changed bool  // to be written
}

type tokenKey struct{ project, collection, token string }

// tokenHolders returns the stored holders of the events' uniqueness tokens.
func (s *Store) tokenHolders(ctx context.Context, events []store.Event) (map[tokenKey]holder, error) {
	type pc struct{ p, c string }
	toks := map[pc][]string{}
	for i := range events {
		if t := events[i].UniquenessToken; t != "" {
			k := pc{events[i].ProjectID, events[i].Collection}
			toks[k] = append(toks[k], t)
		}
	}
	out := map[tokenKey]holder{}
	for k, ts := range toks {
		for _, set := range inSets(ts) {
			q := "SELECT token, id, created FROM " + s.db + "." + tokensTable + " FINAL WHERE project = " + str(k.p) +
				" AND collection = " + str(k.c) + " AND token IN " + set
			if err := s.each(lookupCtx(ctx), q, func(scan func(...any) error) error {
				var tok, id string
				var created int64
				if err := scan(&tok, &id, &created); err != nil {
					return err
				}
				out[tokenKey{k.p, k.c, tok}] = holder{id: id, created: created}
				return nil
			}); err != nil {
				return nil, fmt.Errorf("clickhouse store: looking up uniqueness tokens: %w", err)
			}
		}
	}
	return out, nil
}

// each runs q and calls f for each row.
func (s *Store) each(ctx context.Context, q string, f func(scan func(...any) error) error) error {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *Store) writeEvents(ctx context.Context, evs []pending, tableCols map[string]map[string]string, v uint64) error {
	byTable := map[string][]pending{}
	var order []string
	for _, p := range evs {
		if _, ok := byTable[p.tbl]; !ok {
			order = append(order, p.tbl)
		}
		byTable[p.tbl] = append(byTable[p.tbl], p)
	}
	for _, tbl := range order {
		rows := byTable[tbl]
		cols := tableCols[tbl]
		// Created again on every server: it may miss on some, created by
		// a node that stopped half-way.
		if err := s.ensureTable(ctx, tbl); err != nil {
			return err
		}
		seen := map[string]bool{}
		var keys []string
		for _, p := range rows {
			for _, f := range p.leaves {
				if !seen[f.Key] {
					seen[f.Key] = true
					keys = append(keys, f.Key)
				}
			}
		}
		sort.Strings(keys)
		if err := s.ensureColumns(ctx, tbl, cols, keys); err != nil {
			return err
		}
		names := []string{colID, colTS, colCreated, colJSON, colKeys, colV}
		index := map[string]int{}
		for _, k := range keys {
			names = append(names, cols[k])
			index[k] = len(names) - 1
		}
		var out [][]any
		for _, p := range rows {
			vals := make([]any, len(names))
			evKeys := make([]string, 0, len(p.leaves))
			for i, k := range keys {
				vals[6+i] = nullOf(k)
			}
			for _, f := range p.leaves {
				evKeys = append(evKeys, f.Key)
				vals[index[f.Key]] = leafValue(f)
			}
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5] = p.ev.ID, p.ev.Timestamp.UnixMilli(), p.ev.CreatedAt.UnixMilli(), string(p.ev.JSON), evKeys, v
			out = append(out, vals)
		}
		if err := s.insert(ctx, tbl, names, out, eventShardKey); err != nil {
			return err
		}
	}
	return nil
}

// eventShardKey is a collection table row's sharding key: its keen.id.
func eventShardKey(row []any) string { return row[0].(string) }

// nullOf is the value of a leaf column in an event without that leaf.
func nullOf(k string) any {
	switch _, typ := leaf.SplitKey(k); typ {
	case leaf.StrArray:
		return []string{}
	case leaf.Number:
		return (*float64)(nil)
	case leaf.Bool, leaf.Null:
		return (*uint8)(nil)
	}
	return (*string)(nil)
}

func leafValue(f leaf.Field) any {
	switch _, typ := leaf.SplitKey(f.Key); typ {
	case leaf.String, leaf.JSONArray:
		s := string(f.Str)
		return &s
	case leaf.Number:
		n := f.Num
		if n == 0 {
			n = 0 // -0 is 0: uniqExact and GROUP BY tell their bits apart
		}
		return &n
	case leaf.Bool, leaf.Null:
		var b uint8
		if f.Bool {
			b = 1
		}
		return &b
	case leaf.StrArray:
		ss := make([]string, len(f.Strs))
		for i, e := range f.Strs {
			ss[i] = string(e)
		}
		return ss
	}
	return nil
}

// writeClaims records that the writer of version v claims evs' keen.ids.
func (s *Store) writeClaims(ctx context.Context, evs []pending, v uint64) error {
	rows := make([][]any, len(evs))
	for i, p := range evs {
		rows[i] = []any{p.ev.ProjectID, p.ev.ID, p.tbl, v, claimSource(p.ev), p.ev.Source.Offset}
	}
	if err := s.insert(ctx, claimsTable, []string{"project", "id", "tbl", "_v", "src", "off"}, rows, func(r []any) string {
		return r[0].(string) + "\x00" + r[1].(string)
	}); err != nil {
		return fmt.Errorf("clickhouse store: claiming keen.ids: %w", err)
	}
	return nil
}

// rivalTables returns the tables of evs' keen.ids that a writer other
// than version v has claimed too (the rival's table and evs').
func (s *Store) rivalTables(ctx context.Context, evs []pending, v uint64) (map[string]bool, error) {
	byProject := map[string][]*store.Event{}
	tables := map[string]string{} // project + "\x00" + keen.id → evs' table
	for _, p := range evs {
		byProject[p.ev.ProjectID] = append(byProject[p.ev.ProjectID], p.ev)
		tables[p.ev.ProjectID+"\x00"+p.ev.ID] = p.tbl
	}
	out := map[string]bool{}
	for p, pevs := range byProject {
		for _, cond := range claimFilters(p, pevs) {
			q := "SELECT DISTINCT id, tbl FROM " + s.db + "." + claimsTable + " WHERE " + cond + " AND _v != " + strconv.FormatUint(v, 10)
			if err := s.each(lookupCtx(ctx), q, func(scan func(...any) error) error {
				var id, tbl string
				if err := scan(&id, &tbl); err != nil {
					return err
				}
				out[tbl] = true
				out[tables[p+"\x00"+id]] = true
				return nil
			}); err != nil {
				return nil, fmt.Errorf("clickhouse store: looking up rival claims: %w", err)
			}
		}
	}
	return out, nil
}

func (s *Store) writeTokens(ctx context.Context, hs map[tokenKey]holder) error {
	v := version()
	var rows [][]any
	for k, h := range hs {
		if h.changed {
			rows = append(rows, []any{k.project, k.collection, k.token, h.id, h.created, v})
		}
	}
	if err := s.insert(ctx, tokensTable, []string{"project", "collection", "token", "id", "created", "_v"}, rows, func(r []any) string {
		return r[0].(string) + "\x00" + r[1].(string) + "\x00" + r[2].(string)
	}); err != nil {
		return fmt.Errorf("clickhouse store: recording uniqueness tokens: %w", err)
	}
	return nil
}
