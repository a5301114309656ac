package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Settling marked tables. A mark (dirty.go) makes every query of its
// table read with FINAL, about ten times slower on 18.16; marks come from
// takeovers after a crash (a writer finds the dead writer's claims) and
// from property deletions, so without settling a table would stay slow
// for the rest of its life. Settling merges the table on every server
// (OPTIMIZE … FINAL: one part, one row per keen.id), then removes the
// marks it has settled.
//
// Why that is safe. Only a marked writer writes a second row of a
// keen.id (Insert's claims: of two writers of one keen.id the second to
// read the claims marks first; a deletion marks before rewriting). A
// writer records that its marked writes are complete in doneTable. A
// pass reads the marks and the done records, and settles a table only
// when each of its marks is done, or older than deadWriterAfter (its
// writer died: a live writer says done within seconds of its mark, a long
// deletion within hours). Every row of those writers was written before
// the pass read the done records, so before OPTIMIZE began, and the merge
// collapses them. A mark written meanwhile was not read, and is kept:
// marks are removed by the versions read. OPTIMIZE is run with optimize_throw_if_noop, so
// a merge the server declines is an error, not a silent no-op.

// doneTable lists the marks (tbl, _v) whose writer has finished its
// marked writes.
const doneTable = "sluice_dirty_done"

const (
	// settleEvery is how often a store looks for marked tables to settle
	// (each process; a pass settles nothing a pass of another process
	// has already settled, and two concurrent merges of a table are
	// harmless).
	settleEvery = 5 * time.Minute
	// deadWriterAfter is the age after which a mark without a done
	// record is taken for a dead writer's.
	deadWriterAfter = 24 * time.Hour
)

// markDone records that the writer of version v has finished its writes
// to the tables it marked. Failing to record it only delays settling
// until deadWriterAfter, so it is logged, not returned.
func (s *Store) markDone(ctx context.Context, tables map[string]bool, v uint64) {
	var rows [][]any
	for t := range tables {
		rows = append(rows, []any{t, v})
	}
	if err := s.insert(ctx, doneTable, []string{"tbl", "_v"}, rows, func(r []any) string { return r[0].(string) }); err != nil {
		s.log.Warn("clickhouse store: recording that marked writes are done (their tables are settled a day later)", "err", err)
	}
}

// settleLoop settles marked tables every settleEvery (from a random
// start, so that several processes do not pass together) until ctx ends.
func (s *Store) settleLoop(ctx context.Context, every time.Duration) {
	t := time.NewTimer(every/2 + rand.N(every))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.settle(ctx, time.Now(), deadWriterAfter); err != nil && ctx.Err() == nil {
			s.log.Warn("clickhouse store: settling tables marked as holding copies", "err", err)
		}
		t.Reset(every)
	}
}

// settle runs one pass at time now and returns the tables it settled.
func (s *Store) settle(ctx context.Context, now time.Time, deadAfter time.Duration) ([]string, error) {
	marks, err := s.versions(ctx, dirtyTable)
	if err != nil {
		return nil, err
	}
	done, err := s.versions(ctx, doneTable)
	if err != nil {
		return nil, err
	}
	var settled []string
	for tbl, vs := range marks {
		if !settleable(vs, done[tbl], now, deadAfter) {
			continue
		}
		if err := s.settleTable(ctx, tbl, vs); err != nil {
			return settled, err
		}
		settled = append(settled, tbl)
	}
	return settled, nil
}

// settleable says whether a table with marks vs, of which those in done
// are done, can be settled at now.
func settleable(vs, done []uint64, now time.Time, deadAfter time.Duration) bool {
	dead := uint64(now.Add(-deadAfter).UnixNano())
	isDone := make(map[uint64]bool, len(done))
	for _, v := range done {
		isDone[v] = true
	}
	for _, v := range vs {
		if !isDone[v] && v > dead {
			return false
		}
	}
	return len(vs) > 0
}

// versions reads table (dirtyTable or doneTable): per collection table,
// its versions.
func (s *Store) versions(ctx context.Context, table string) (map[string][]uint64, error) {
	out := map[string][]uint64{}
	err := s.each(ctx, "SELECT tbl, _v FROM "+s.db+"."+table, func(scan func(...any) error) error {
		var tbl string
		var v uint64
		if err := scan(&tbl, &v); err != nil {
			return err
		}
		out[tbl] = append(out[tbl], v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: reading %s: %w", table, err)
	}
	return out, nil
}

// settleTable merges tbl on every server, then removes its marks and
// done records of the marks vs it read. By their versions, not "up to
// the newest": versions come from each node's clock, so a mark another
// node writes during the pass may carry an older one.
func (s *Store) settleTable(ctx context.Context, tbl string, vs []uint64) error {
	s.delMu.RLock() // not while this process drops the table or a column
	defer s.delMu.RUnlock()
	local := ""
	if s.cluster != "" {
		local = localSuffix
	}
	// A Replicated table replicates OPTIMIZE (its leader assigns the merge
	// to every replica): once per shard, then every replica is waited for.
	optimize := ch.Context(ctx, ch.WithSettings(ch.Settings{"optimize_throw_if_noop": 1}))
	err := s.onShards(func(c driver.Conn) error {
		return c.Exec(optimize, "OPTIMIZE TABLE "+s.db+"."+tbl+local+" FINAL")
	})
	if err == nil && s.replicas != nil {
		err = s.syncReplicas(ctx, tbl+local)
	}
	if isUnknownTable(err) {
		err = nil // dropped (its collection deleted): its marks go too
	}
	if err != nil {
		return fmt.Errorf("clickhouse store: merging %s to settle it: %w", tbl, err)
	}
	for chunk := range slices.Chunk(vs, 4096) {
		list := make([]string, len(chunk))
		for i, v := range chunk {
			list[i] = strconv.FormatUint(v, 10)
		}
		cond := " DELETE WHERE tbl = " + str(tbl) + " AND _v IN (" + strings.Join(list, ", ") + ")"
		for _, t := range []string{dirtyTable, doneTable} {
			if err := s.onShards(func(c driver.Conn) error { return c.Exec(ctx, "ALTER TABLE "+s.db+"."+t+local+cond) }); err != nil {
				return fmt.Errorf("clickhouse store: removing the settled marks of %s from %s: %w", tbl, t, err)
			}
		}
	}
	s.log.Info("clickhouse store: settled a table marked as holding copies: read without FINAL again", "table", tbl)
	return nil
}
