package clickhouse

import (
	"context"
	"fmt"
	"strings"
)

// Reading without FINAL. On 18.16, FINAL merges every part of a table at
// query time in one thread and keeps filters from using the primary key:
// over 1M events a count with one filter took 0.30 s with it and 0.02 s
// without (docs/clickhouse.md, "Exactly once"). So a collection's table is
// read with FINAL only while it may hold two rows of one keen.id: when a
// writer found a rival claim of one of its keen.ids (insert.go) or a
// property deletion wrote newer versions of events (delete.go). Those
// writers record the table in dirtyTable before they write the second
// row, so a query that finds no mark for its table reads a table where
// every keen.id has one row.

// dirtyTable lists the collection tables that may hold more than one row
// of a keen.id (tbl), with the version of the writer that said so (_v).
// Plain MergeTree: a mark is never collapsed away.
const dirtyTable = "sluice_dirty"

// source is what a query reads for table tbl: "db.tbl", with FINAL when
// the table is marked.
func (s *Store) source(ctx context.Context, tbl string) (string, error) {
	marked, err := s.marked(ctx, tbl)
	if err != nil || !marked {
		return s.db + "." + tbl, err
	}
	return s.db + "." + tbl + " FINAL", nil
}

func (s *Store) marked(ctx context.Context, tbl string) (bool, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.db+"."+dirtyTable+" WHERE tbl = "+str(tbl)).Scan(&n); err != nil {
		return false, fmt.Errorf("clickhouse store: reading whether %s may hold copies: %w", tbl, err)
	}
	return n > 0, nil
}

// read calls f with what to read for table tbl (source) and, when that
// was the table without FINAL, reads the marks again afterwards: a writer
// that marked the table meanwhile may have written a second row of a
// keen.id that f read, so f is called again, with FINAL. A mark written
// after that second look comes before a second row that f could not see.
// f starts its answer afresh on each call.
func (s *Store) read(ctx context.Context, tbl string, f func(from string) error) error {
	from, err := s.source(ctx, tbl)
	if err != nil {
		return err
	}
	if err := f(from); err != nil {
		return err
	}
	if strings.HasSuffix(from, " FINAL") {
		return nil
	}
	marked, err := s.marked(ctx, tbl)
	if err != nil || !marked {
		return err
	}
	return f(from + " FINAL")
}

// markDirty records that tables may hold more than one row of a keen.id
// from now on. It returns once every shard has the mark.
func (s *Store) markDirty(ctx context.Context, tables map[string]bool, v uint64) error {
	var rows [][]any
	for t := range tables {
		rows = append(rows, []any{t, v})
	}
	if err := s.insert(ctx, dirtyTable, []string{"tbl", "_v"}, rows, func(r []any) string { return r[0].(string) }); err != nil {
		return fmt.Errorf("clickhouse store: marking tables that may hold copies: %w", err)
	}
	return nil
}
