package clickhouse

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Recording returns c for a store that calls rec with the text of every
// statement it sends, and whether it failed (tests replay them on another
// ClickHouse).
func Recording(c Config, rec func(sql string, failed bool)) Config {
	c.wrap = func(conn driver.Conn) driver.Conn { return recording{conn, rec} }
	return c
}

type recording struct {
	driver.Conn
	rec func(string, bool)
}

func (r recording) Exec(ctx context.Context, q string, args ...any) error {
	err := r.Conn.Exec(ctx, q, args...)
	r.rec(q, err != nil)
	return err
}

func (r recording) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	rows, err := r.Conn.Query(ctx, q, args...)
	r.rec(q, err != nil)
	return rows, err
}

func (r recording) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	row := r.Conn.QueryRow(ctx, q, args...)
	r.rec(q, row.Err() != nil)
	return row
}

func (r recording) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	b, err := r.Conn.PrepareBatch(ctx, q, opts...)
	r.rec(q, err != nil)
	return b, err
}

// Settle runs one settling pass (settle.go) as if at now.
func Settle(ctx context.Context, s *Store, now time.Time, deadAfter time.Duration) ([]string, error) {
	return s.settle(ctx, now, deadAfter)
}

// Settleable is settleable, for its table test.
var Settleable = settleable

// ReplicatedEngine is replicatedEngine, for its table test.
var ReplicatedEngine = replicatedEngine
