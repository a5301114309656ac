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

// families are the storetest families the ClickHouse engine passes today.
// Not run: delete (Delete is refused, not built yet).
var families = []string{
	"count", "count_unique", "select_unique", "sum", "average", "minimum", "maximum",
	"median", "percentile", "standard_deviation", "extraction",
	"filters", "or", "regex", "within", "group_by", "buckets", "outcomes", "schema",
}

// opener returns a storetest open function: every store is a new
// database on the servers.
func opener(addrs []string) func(t *testing.T) store.Store {
	var n atomic.Int64
	prefix := fmt.Sprintf("t%d", time.Now().UnixNano())
	return func(t *testing.T) store.Store {
		db := fmt.Sprintf("%s_%d", prefix, n.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := clickhouse.Open(ctx, clickhouse.Config{Addrs: addrs, Database: db}, slog.New(slog.DiscardHandler))
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

func TestConformance(t *testing.T) {
	c := clickhousetest.StartForTest(t, 1)
	storetest.RunOptions(t, opener(c.Addrs), storetest.Options{Families: families})
}
