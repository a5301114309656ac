package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Reopening the database. DuckDB keeps, outside its memory limit, an
// object for every column segment the process has written or read: the
// segment, its block handle and statistics, a dictionary's FSST table.
// They go only when the database closes, so a store that keeps writing
// grows by about 5 MB per million events of 1 KB (docs/store.md,
// Settings): 2 GB a day at 5,000 events/s. The store closes the database
// and opens it again after every reopenEvents events; opened, DuckDB reads
// a segment's metadata only when a query or an append needs it.
//
// A reopen checkpoints, then closes and opens the instance (the database
// file, its catalog, the store's settings): it stalls the Insert that
// runs it, and queries wait for it. It runs when no query is running
// (delMu free), tried again at each Insert; once reopenEvents/2 more
// events have gone by without such a moment (queries back to back), it
// waits for the running queries to end, new ones waiting behind it.
const reopenEvents = 10_000_000

// errNoDatabase is returned while the store has no open database: a reopen
// closed it and could not open it again; the next Insert tries again.
var errNoDatabase = errors.New("store: the database is closed (reopening it failed; the next insert tries again)")

// readDB is the database for a query; the caller holds delMu (read).
func (s *DuckStore) readDB() (*sql.DB, error) {
	if s.db == nil {
		return nil, errNoDatabase
	}
	return s.db, nil
}

// maybeReopen reopens the database once reopenEvery events have been
// written since it was opened, if no query is running. Called with wmu
// held, after an Insert committed: a failure is logged, and the next
// Insert tries again (ensureOpen).
func (s *DuckStore) maybeReopen(ctx context.Context) {
	if s.reopenEvery <= 0 || s.eventsSinceOpen < s.reopenEvery {
		return
	}
	if !s.delMu.TryLock() {
		if s.eventsSinceOpen < s.reopenEvery+s.reopenEvery/2 {
			return // a query is running: at the next Insert
		}
		s.delMu.Lock()
	}
	defer s.delMu.Unlock()
	if err := s.reopenLocked(ctx); err != nil {
		s.logger.Error("event store: reopening the database", "err", err)
	}
}

// ensureOpen opens the database again if a reopen left the store without
// one. Called with wmu held.
func (s *DuckStore) ensureOpen(ctx context.Context) error {
	if s.db != nil {
		return nil
	}
	s.delMu.Lock()
	defer s.delMu.Unlock()
	return s.reopenLocked(ctx)
}

// reopenLocked checkpoints and closes the database, then opens it again;
// wmu and delMu are held, so no Insert, Delete or query runs. On an error
// the store is left without a database (s.db nil) rather than half open.
func (s *DuckStore) reopenLocked(ctx context.Context) error {
	t0 := time.Now()
	s.ck.mu.Lock() // waits for a running checkpoint, and holds off the next
	defer s.ck.mu.Unlock()
	if s.db != nil {
		// The checkpoint leaves the WAL empty, so opening has nothing to
		// replay; should it fail, the WAL is replayed instead.
		if _, err := s.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
			s.logger.Warn("event store: checkpointing before reopening the database", "err", err)
		}
		err := errors.Join(s.ck.conn.Close(), s.conn.Close(), s.db.Close())
		s.db, s.conn, s.ck.conn = nil, nil, nil
		if err != nil {
			return fmt.Errorf("store: closing the database to reopen it: %w", err)
		}
	}
	db, err := openDB(s.dir, s.limits)
	if err != nil {
		return fmt.Errorf("store: reopening the database: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return fmt.Errorf("store: reopening the database: %w", err)
	}
	ckConn, err := db.Conn(ctx)
	if err != nil {
		conn.Close()
		db.Close()
		return fmt.Errorf("store: reopening the database: %w", err)
	}
	s.db, s.conn, s.ck.conn = db, conn, ckConn
	s.logger.Info("event store: database reopened, releasing DuckDB's metadata of the segments written",
		"events_since_open", s.eventsSinceOpen, "took", time.Since(t0))
	s.eventsSinceOpen = 0
	s.reopens++
	return nil
}
