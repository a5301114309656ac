package duckdb

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointer runs DuckDB's checkpoints on a connection and goroutine of
// its own, off the insert path: a checkpoint compresses the rows committed
// since the last one into the database file and rewrites the last, partly
// filled row group of each table it touches, which takes tens to hundreds
// of milliseconds. Run by the COMMIT that took the WAL past DuckDB's
// threshold (wal_autocheckpoint), it stalled that Insert, and the pipeline
// behind it, for all of it. On its own connection it runs while the
// pipeline does everything else; DuckDB (1.5, 2.0) lets a COMMIT go on during
// it, but an append waits until it ends (docs/store.md, Settings).
// wal_autocheckpoint is kept as a backstop, far above the store's cadence
// (checkpointBytes), should these checkpoints keep failing.
type checkpointer struct {
	conn    *sql.Conn // replaced by a reopen, holding mu
	logger  *slog.Logger
	wakeC   chan struct{}
	done    chan struct{} // closed by stop
	stopped chan struct{}
	// mu is held while a checkpoint runs: one at a time (DuckDB refuses a
	// second while one runs).
	mu sync.Mutex
	// starts counts the checkpoints started; running is 1 while one runs.
	starts, runningNow atomic.Int64
	// ran, when set (tests), is told of each checkpoint run: how long it
	// took and its error.
	ran func(time.Duration, error)
}

// checkpointRetry is how long the checkpointer waits before trying again
// after a failed checkpoint (DuckDB refuses one while it cannot take its
// checkpoint lock).
const checkpointRetry = 50 * time.Millisecond

func startCheckpointer(conn *sql.Conn, logger *slog.Logger) *checkpointer {
	c := &checkpointer{conn: conn, logger: logger, wakeC: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go c.run()
	return c
}

// wake asks for a checkpoint; it never blocks (a checkpoint asked for
// while one is pending is the same checkpoint).
func (c *checkpointer) wake() {
	select {
	case c.wakeC <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	for {
		select {
		case <-c.done:
			return
		case <-c.wakeC:
		}
		for failures := 0; ; failures++ {
			// Not interrupted by stop: Close waits for it.
			t0 := time.Now()
			err := c.now(context.Background())
			took := time.Since(t0)
			if c.ran != nil {
				c.ran(took, err)
			}
			// Appends wait for a checkpoint: its length is a stall of
			// every Insert that meets it (a debug line to trace them).
			c.logger.Debug("a store checkpoint ran", "took", took, "err", err)
			if err == nil {
				break
			}
			if failures == 20 {
				c.logger.Warn("checkpointing the store failed 20 times in a row; trying again at the next", "err", err)
				break
			}
			select {
			case <-c.done:
				return
			case <-time.After(checkpointRetry):
			}
		}
	}
}

// now checkpoints and returns when done, one checkpoint at a time (tests
// call it to checkpoint at a point of their choosing).
func (c *checkpointer) now(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return errNoDatabase
	}
	c.runningNow.Store(1)
	c.starts.Add(1)
	defer c.runningNow.Store(0)
	_, err := c.conn.ExecContext(ctx, "CHECKPOINT")
	return err
}

// ckMark is what overlapped needs of the moment something started.
type ckMark struct {
	starts  int64
	running bool
}

// mark returns what overlapped needs: call it when something starts.
func (c *checkpointer) mark() ckMark {
	// starts before runningNow, which run sets before counting a start:
	// a checkpoint that starts in between is seen running or counted.
	starts := c.starts.Load()
	return ckMark{starts, c.runningNow.Load() == 1}
}

// overlapped says whether a checkpoint ran during something that started
// at mark m and has just ended.
func (c *checkpointer) overlapped(m ckMark) bool {
	return m.running || c.runningNow.Load() == 1 || c.starts.Load() != m.starts
}

// stop ends the checkpointer once a checkpoint that runs is done (Close
// checkpoints on the write connection after it).
func (c *checkpointer) stop() error {
	close(c.done)
	<-c.stopped
	if c.conn == nil { // a failed reopen closed it
		return nil
	}
	return c.conn.Close()
}
