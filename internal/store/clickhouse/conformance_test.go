package clickhouse_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

// opener returns a storetest open function: every store is a new
// database on the servers.
func opener(addrs []string, cluster string) func(t *testing.T) store.Store {
	var n atomic.Int64
	prefix := fmt.Sprintf("t%d", time.Now().UnixNano())
	return func(t *testing.T) store.Store {
		db := fmt.Sprintf("%s_%d", prefix, n.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: addrs, Database: db, Cluster: cluster}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("opening the ClickHouse store: %v", err)
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("closing the ClickHouse store: %v", err)
			}
		})
		return st
	}
}

// TestConformance runs every family of the suite on one server.
func TestConformance(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	storetest.Run(t, opener(c.Addrs, ""))
}

// TestConformanceTwoShards runs every family of the suite on two shards:
// sharded local tables, read through Distributed tables.
func TestConformanceTwoShards(t *testing.T) {
	c := clickhousetest.StartForTest(t, 2)
	storetest.Run(t, opener(c.Addrs, clickhousetest.ClusterName))
}
