package storetest_test

import (
	"log/slog"
	"testing"

	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/duckdb"
	"github.com/sluice-io/sluice/internal/store/storetest"
)

func openDuck(t *testing.T) store.Store {
	st, err := duckdb.Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("opening the DuckDB store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the DuckDB store: %v", err)
		}
	})
	return st
}

// TestDuckDB runs every family of the suite against the DuckDB engine.
func TestDuckDB(t *testing.T) {
	storetest.Run(t, openDuck)
}
