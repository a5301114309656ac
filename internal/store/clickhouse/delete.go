package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/jsonedit"
	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
)

// Delete removes a whole collection, the events of a collection matching a
// timeframe and filters, or a property from every event of a collection
// (store.Deletion; docs/clickhouse.md, "Deletes"). It returns once the
// server has applied it: ClickHouse's mutations are asynchronous, and
// Delete waits for them.
func (s *Store) Delete(ctx context.Context, d store.Deletion) (store.Deleted, error) {
	if err := d.Check(); err != nil {
		return store.Deleted{}, err
	}
	if d.Events != nil {
		if _, err := compileWhere(*d.Events, nil); err != nil {
			return store.Deleted{}, err
		}
	}
	tbl, err := tableName(d.ProjectID, d.Collection)
	if err != nil {
		return store.Deleted{}, err
	}
	// No Insert of this process runs meanwhile (its checks would read
	// what the deletion is changing).
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delMu.Lock()
	defer s.delMu.Unlock()
	cols, err := s.columns(ctx, tbl)
	if err != nil {
		return store.Deleted{}, err
	}
	if cols == nil {
		return store.Deleted{}, nil
	}
	switch {
	case len(d.Property) > 0:
		return store.Deleted{}, s.deleteProperty(ctx, tbl, cols, d.Property)
	case d.Events != nil:
		return s.deleteEvents(ctx, d.ProjectID, tbl, cols, *d.Events)
	}
	return s.deleteCollection(ctx, d.ProjectID, d.Collection, tbl)
}

// deleteCollection drops the table, forgets its keen.ids (processed again,
// they are stored again) and releases its uniqueness tokens.
func (s *Store) deleteCollection(ctx context.Context, project, collection, tbl string) (store.Deleted, error) {
	src, err := s.source(ctx, tbl)
	if err != nil {
		return store.Deleted{}, err
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+src).Scan(&n); err != nil {
		return store.Deleted{}, fmt.Errorf("clickhouse store: counting the events of %s: %w", tbl, err)
	}
	if err := s.dropTable(ctx, tbl); err != nil {
		return store.Deleted{}, fmt.Errorf("clickhouse store: dropping %s: %w", tbl, err)
	}
	if err := s.mutate(ctx, claimsTable, "DELETE WHERE project = "+str(project)+" AND tbl = "+str(tbl)); err != nil {
		return store.Deleted{}, err
	}
	// The table is gone, and with it any copy: a new one starts unmarked.
	if err := s.mutate(ctx, dirtyTable, "DELETE WHERE tbl = "+str(tbl)); err != nil {
		return store.Deleted{}, err
	}
	if err := s.mutate(ctx, tokensTable, "DELETE WHERE project = "+str(project)+" AND collection = "+str(collection)); err != nil {
		return store.Deleted{}, err
	}
	return store.Deleted{Events: int64(n)}, nil
}

// deleteEvents deletes the matching events by keen.id, so that every
// stored version of an event goes (a condition evaluated on each version
// could keep an older one that then shows through FINAL), and forgets
// their keen.ids. Their uniqueness tokens stay held for the rest of the
// window: a deleted event was recorded.
func (s *Store) deleteEvents(ctx context.Context, project, tbl string, cols map[string]string, q store.Query) (store.Deleted, error) {
	where, err := compileWhere(q, cols)
	if err != nil {
		return store.Deleted{}, err
	}
	src, err := s.source(ctx, tbl)
	if err != nil {
		return store.Deleted{}, err
	}
	var ids []string
	err = s.each(ctx, "SELECT "+colID+" FROM "+src+" WHERE "+where, func(scan func(...any) error) error {
		var id string
		if err := scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return store.Deleted{}, fmt.Errorf("clickhouse store: selecting the events to delete: %w", err)
	}
	for _, list := range inLists(ids) {
		if err := s.mutate(ctx, tbl, "DELETE WHERE "+colID+" IN ("+list+")"); err != nil {
			return store.Deleted{}, err
		}
		if err := s.mutate(ctx, claimsTable, "DELETE WHERE project = "+str(project)+" AND id IN ("+list+")"); err != nil {
			return store.Deleted{}, err
		}
	}
	return store.Deleted{Events: int64(len(ids))}, nil
}

// rewriteBatch is how many rewritten events one INSERT sends.
const rewriteBatch = 10000

// deleteProperty drops the property's columns, then writes every event
// that has it again without it (JSON and _keys edited, a newer version:
// FINAL reads the rewrite). Done again after a failure half-way, it
// finishes the job: the events still to rewrite are those whose newest
// version still lists the property's keys or names it in its JSON.
func (s *Store) deleteProperty(ctx context.Context, tbl string, cols map[string]string, path []string) error {
	prefix := strings.Join(path, leaf.Sep) + leaf.Sep
	// An event may hold the property as an empty object, which has no
	// leaf: its JSON names it.
	name, err := json.Marshal(path[len(path)-1])
	if err != nil {
		return err
	}
	cond := "arrayExists(k -> substring(k, 1, " + strconv.Itoa(len(prefix)) + ") = " + str(prefix) + ", " + colKeys + ") OR position(" + colJSON + ", " + str(string(name)) + ") > 0"
	// Refused before anything changes when it would rewrite too many.
	src, err := s.source(ctx, tbl)
	if err != nil {
		return err
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+src+" WHERE "+cond).Scan(&n); err != nil {
		return fmt.Errorf("clickhouse store: counting the events holding %s: %w", strings.Join(path, "."), err)
	}
	if n > limits.MaxPropertyRewrite {
		return &store.RewriteTooLargeError{Events: int64(n), Max: limits.MaxPropertyRewrite}
	}
	for k, c := range cols {
		if strings.HasPrefix(k, prefix) {
			if err := s.alterTable(ctx, tbl, "DROP COLUMN "+c, notThere); err != nil {
				return fmt.Errorf("clickhouse store: dropping column %s of %s: %w", c, tbl, err)
			}
			delete(cols, k)
		}
	}
	// The rewrite is a second row of each event: queries read the table
	// with FINAL from now on (dirty.go).
	v := version()
	if err := s.markDirty(ctx, map[string]bool{tbl: true}, v); err != nil {
		return err
	}
	names := []string{colID, colTS, colCreated, colJSON, colKeys, colV}
	for _, c := range cols {
		names = append(names, c)
	}
	slices.Sort(names[6:])
	rows, err := s.conn.Query(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+s.db+"."+tbl+" FINAL WHERE "+cond)
	if err != nil {
		return fmt.Errorf("clickhouse store: selecting the events holding %s: %w", strings.Join(path, "."), err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var pending [][]any
	flush := func() error {
		err := s.insert(ctx, tbl, names, pending, eventShardKey)
		pending = pending[:0]
		return err
	}
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, t := range types {
			ptrs[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("clickhouse store: reading events of %s: %w", tbl, err)
		}
		vals := make([]any, len(ptrs))
		for i, p := range ptrs {
			vals[i] = reflect.ValueOf(p).Elem().Interface()
		}
		js, _ := vals[3].(string)
		out, changed, err := jsonedit.WithoutMember([]byte(js), path)
		if err != nil {
			return fmt.Errorf("clickhouse store: deleting %s from event %v: %w", strings.Join(path, "."), vals[0], err)
		}
		keys, _ := vals[4].([]string)
		kept := slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return strings.HasPrefix(k, prefix) })
		if !changed && len(kept) == len(keys) {
			continue // the name was elsewhere in its JSON
		}
		// Newer than the version it replaces even if this node's clock
		// is behind the one that wrote it.
		old, _ := vals[5].(uint64)
		vals[3], vals[4], vals[5] = string(out), kept, max(v, old+1)
		pending = append(pending, vals)
		if len(pending) == rewriteBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse store: reading events of %s: %w", tbl, err)
	}
	if err := flush(); err != nil {
		return err
	}
	s.markDone(ctx, map[string]bool{tbl: true}, v)
	return nil
}
