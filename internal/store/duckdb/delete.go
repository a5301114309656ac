package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/sluice-io/sluice/internal/jsonedit"
	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store"
)

// propertyChunk is how many bytes of JSON a property deletion reads and
// edits at a time (at least one event; DuckStore.propertyChunk, which tests
// set lower).
const propertyChunk = 16 << 20

// Schema lists a project's collections, sorted by name, and for each the
// leaf types of its properties (sorted), from the catalog: every type a
// property has had since the collection was created, less deleted
// properties. keen.timestamp and keen.created_at are listed as strings;
// keen.id is not (store.Collection).
func (s *DuckStore) Schema(ctx context.Context, project string) ([]store.Collection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.Collection
	for k, t := range s.tables {
		if k.project != project {
			continue
		}
		props := map[string][]string{}
		for fk := range t.cols {
			if _, own := keenColumns[fk]; own {
				continue // a column of an earlier version's table
			}
			path, typ := leaf.SplitKey(fk)
			name := strings.Join(path, ".")
			props[name] = append(props[name], typ)
		}
		for _, name := range []string{"keen.timestamp", "keen.created_at"} {
			if !slices.Contains(props[name], leaf.String) {
				props[name] = append(props[name], leaf.String)
			}
		}
		for _, types := range props {
			slices.Sort(types)
		}
		out = append(out, store.Collection{Name: k.collection, Properties: props})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete removes a whole collection, the events of a collection that
// match a timeframe and filters, or a property from every event of a
// collection (docs/store.md, "Schema and deletes"). The partitions' marks stay: an
// event deleted and then processed again (store.Source) is found already
// processed, and not stored again.
func (s *DuckStore) Delete(ctx context.Context, d store.Deletion) (store.Deleted, error) {
	if err := d.Check(); err != nil {
		return store.Deleted{}, err
	}
	if d.Events != nil {
		if _, _, err := compileWhere(*d.Events, nil); err != nil {
			return store.Deleted{}, err
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ensureOpen(ctx); err != nil {
		return store.Deleted{}, err
	}
	k := collKey{d.ProjectID, d.Collection}
	t, cols := s.snapshotTable(d.ProjectID, d.Collection)
	if t == nil {
		return store.Deleted{}, nil
	}
	switch {
	case len(d.Property) > 0:
		return store.Deleted{}, s.deleteProperty(ctx, t, cols, d.Property)
	case d.Events != nil:
		return s.deleteEvents(ctx, t, cols, *d.Events)
	default:
		return s.deleteCollection(ctx, k, t)
	}
}

// deleteCollection drops the collection's table, its catalog rows, its
// uniqueness tokens and its JSON log.
func (s *DuckStore) deleteCollection(ctx context.Context, k collKey, t *table) (store.Deleted, error) {
	var n int64
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
		return store.Deleted{}, fmt.Errorf("store: deleting %s/%s: %w", k.project, k.collection, err)
	}
	s.delMu.Lock()
	defer s.delMu.Unlock()
	err := s.schemaTx(ctx, func() error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DROP TABLE ` + t.name, nil},
			{`DELETE FROM _collections WHERE project = ? AND collection = ?`, []any{k.project, k.collection}},
			{`DELETE FROM _columns WHERE tbl = ?`, []any{t.name}},
			{`DELETE FROM _uniq WHERE project = ? AND collection = ?`, []any{k.project, k.collection}},
		} {
			if _, err := s.conn.ExecContext(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.Deleted{}, fmt.Errorf("store: deleting %s/%s: %w", k.project, k.collection, err)
	}
	s.mu.Lock()
	delete(s.tables, k)
	s.mu.Unlock()
	if err := t.log.close(); err != nil {
		s.logger.Warn("event store: closing a deleted collection's log", "path", t.log.path, "err", err)
	}
	// A log left behind (a crash here) is cut to nothing when a table of
	// that name is created again.
	if err := os.Remove(t.log.path); err != nil {
		s.logger.Warn("event store: removing a deleted collection's log", "path", t.log.path, "err", err)
	}
	return store.Deleted{Events: n}, nil
}

// deleteEvents deletes the rows matching q's timeframe and filters and
// blanks their JSON in the log. Their uniqueness tokens stay held.
func (s *DuckStore) deleteEvents(ctx context.Context, t *table, cols map[string]string, q store.Query) (store.Deleted, error) {
	where, args, err := compileWhere(q, cols)
	if err != nil {
		return store.Deleted{}, err
	}
	var ptrs []jsonPtr
	var n int64
	err = s.schemaTx(ctx, func() error {
		rows, err := s.conn.QueryContext(ctx, `SELECT _off, _len FROM `+t.name+` WHERE `+where, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p jsonPtr
			if err := rows.Scan(&p.off, &p.n); err != nil {
				rows.Close()
				return err
			}
			ptrs = append(ptrs, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		res, err := s.conn.ExecContext(ctx, `DELETE FROM `+t.name+` WHERE `+where, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return store.Deleted{}, fmt.Errorf("store: deleting events of %s: %w", t.name, err)
	}
	s.blank(t, ptrs)
	return store.Deleted{Events: n}, nil
}

// deleteProperty removes the property at path from every event of t: its
// events' JSON is rewritten without it (appended to the log, the rows
// pointed at the new JSON in one transaction, the old bytes blanked), then
// its columns (its own leaves and those of its children) are dropped.
// Events where the property is an empty object have no leaf to find them
// by and keep it in their JSON.
func (s *DuckStore) deleteProperty(ctx context.Context, t *table, cols map[string]string, path []string) error {
	name := strings.Join(path, leaf.Sep)
	var keys, drop []string
	for fk, c := range cols {
		if _, own := keenColumns[fk]; own {
			continue
		}
		p, _ := leaf.SplitKey(fk)
		if j := strings.Join(p, leaf.Sep); j == name || strings.HasPrefix(j, name+leaf.Sep) {
			keys = append(keys, fk)
			drop = append(drop, c)
		}
	}
	if len(drop) == 0 {
		return nil
	}
	sort.Strings(drop)
	conds := make([]string, len(drop))
	for i, c := range drop {
		conds[i] = c + " IS NOT NULL"
	}
	where := strings.Join(conds, " OR ")
	what := fmt.Sprintf("deleting property %s of %s", strings.Join(path, "."), t.name)
	var n int64
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name+` WHERE `+where).Scan(&n); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n > limits.MaxPropertyRewrite {
		return &store.RewriteTooLargeError{Events: n, Max: limits.MaxPropertyRewrite}
	}
	var old []jsonPtr
	if err := s.collect(ctx, `SELECT _off, _len FROM `+t.name+` WHERE `+where+` ORDER BY _off`, nil, func(r *sql.Rows) error {
		var p jsonPtr
		if err := r.Scan(&p.off, &p.n); err != nil {
			return err
		}
		old = append(old, p)
		return nil
	}); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}

	// The new JSON, at the end of the log, synced before the rows point
	// at it (as an Insert's).
	st := staged{logEnds: map[*jsonLog]int64{t.log: t.log.end}}
	moved := make([]jsonPtr, len(old))
	for start, stop := 0, 0; start < len(old); start = stop {
		var size int64
		for stop = start; stop < len(old) && (stop == start || size+int64(old[stop].n) <= s.propertyChunk); stop++ {
			size += int64(old[stop].n)
		}
		part := old[start:stop]
		docs, err := t.log.read(ctx, part)
		if err != nil {
			s.rewind(&st)
			return fmt.Errorf("store: %s: %w", what, err)
		}
		var buf []byte
		base := t.log.end
		for i, doc := range docs {
			edited, _, err := jsonedit.WithoutMember(doc, path)
			if err != nil {
				s.rewind(&st)
				return fmt.Errorf("store: %s: event JSON at %d: %w", what, part[i].off, err)
			}
			moved[start+i] = jsonPtr{off: base + int64(len(buf)), n: int32(len(edited))}
			buf = append(append(buf, edited...), '\n')
		}
		if err := t.log.appendBatch(buf); err != nil {
			s.rewind(&st)
			return fmt.Errorf("store: %s: %w", what, err)
		}
	}
	if err := t.log.sync(); err != nil {
		s.rewind(&st)
		return fmt.Errorf("store: %s: %w", what, err)
	}

	// The rows point at the new JSON, then the columns go, in transactions
	// of their own (DuckDB refuses to commit an ALTER TABLE of a table the
	// same transaction updated). Should the columns' removal not happen,
	// the property is gone from the JSON but not from the other queries,
	// and the deletion can be run again. No query runs while the pointers
	// move: an extraction running beside the UPDATE was seen to read a
	// pointer whose offset and length reach past the end of the log
	// (TestQueriesDuringDeletes, about one run in forty).
	s.delMu.Lock()
	if _, err := s.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		s.delMu.Unlock()
		s.rewind(&st)
		return fmt.Errorf("store: %s: %w", what, err)
	}
	err := func() error {
		if _, err := s.conn.ExecContext(ctx, `CREATE TEMP TABLE _moved (old BIGINT, off BIGINT, len INTEGER)`); err != nil {
			return err
		}
		if err := s.conn.Raw(func(dc any) error {
			app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "_moved")
			if err != nil {
				return err
			}
			for i, p := range old {
				if err := app.AppendRow(p.off, moved[i].off, moved[i].n); err != nil {
					app.Close()
					return err
				}
			}
			return app.Close()
		}); err != nil {
			return err
		}
		for _, q := range []string{
			`UPDATE ` + t.name + ` SET _off = m.off, _len = m.len FROM _moved m WHERE ` + t.name + `._off = m.old`,
			`DROP TABLE _moved`,
			`COMMIT`,
		} {
			if _, err := s.conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}()
	s.delMu.Unlock()
	if err != nil {
		s.rollback(&st)
		return fmt.Errorf("store: %s: %w", what, err)
	}
	s.blank(t, old)
	if err := s.dropColumns(ctx, t, keys); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// dropColumns drops the columns of field keys from t, alterChunk per
// transaction (as addColumns adds them), each chunk published once
// committed.
func (s *DuckStore) dropColumns(ctx context.Context, t *table, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), alterChunk)
		s.mu.RLock()
		have := t.cols
		s.mu.RUnlock()
		kept := make(map[string]string, len(have))
		for k, c := range have {
			kept[k] = c
		}
		var drop []any
		for _, k := range keys[:n] {
			drop = append(drop, have[k])
			delete(kept, k)
		}
		s.delMu.Lock()
		err := s.schemaTx(ctx, func() error {
			for _, c := range drop {
				if _, err := s.conn.ExecContext(ctx, `ALTER TABLE `+t.name+` DROP COLUMN `+c.(string)); err != nil {
					return err
				}
			}
			_, err := s.conn.ExecContext(ctx, `DELETE FROM _columns WHERE tbl = ? AND col IN (SELECT unnest(?::VARCHAR[]))`, t.name, drop)
			return err
		})
		if err == nil {
			s.mu.Lock()
			t.cols = kept // copy on write: readers keep the old map
			s.mu.Unlock()
		}
		s.delMu.Unlock()
		if err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// rewind cuts what was appended to the logs in st off again (nothing was
// committed).
func (s *DuckStore) rewind(st *staged) {
	for l, end := range st.logEnds {
		if err := l.rewind(end); err != nil {
			s.logger.Warn("event store: cutting back a log", "err", err)
		}
	}
}

// blank overwrites the JSON at ptrs, which no row points at any more, so
// that deleted data does not stay readable in the log file. The file does
// not shrink (the bytes are spaces). A failure is logged: the data is
// deleted from every query whatever becomes of the bytes.
func (s *DuckStore) blank(t *table, ptrs []jsonPtr) {
	if len(ptrs) == 0 {
		return
	}
	s.delMu.Lock()
	defer s.delMu.Unlock()
	if err := t.log.blank(ptrs); err != nil {
		s.logger.Warn("event store: blanking deleted events in their log", "path", t.log.path, "err", err)
	}
}
