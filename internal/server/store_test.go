package server

import (
	"context"
	"log/slog"
	"testing"

	"github.com/sluice-io/sluice/internal/clickhousetest"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
	"github.com/sluice-io/sluice/internal/store/duckdb"
)

// --store picks the engine: the embedded DuckDB store without it, the
// ClickHouse database it names with it.
func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	st, err := openStore(ctx, config.Serve{DataDir: t.TempDir()}, log, limits.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*duckdb.DuckStore); !ok {
		t.Fatalf("without --store: %T, want the DuckDB store", st)
	}
	st.Close()

	c := clickhousetest.StartForTest(t, 1)
	cfg, err := config.ParseServe([]string{"--data-dir", t.TempDir(), "--store", "clickhouse://" + c.Addrs[0] + "/served"}, func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err = openStore(ctx, cfg, log, cfg.Limits)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.(*clickhouse.Store); !ok {
		t.Fatalf("with --store clickhouse://: %T, want the ClickHouse store", st)
	}
	cols, err := st.Schema(ctx, "p")
	if err != nil || len(cols) != 0 {
		t.Fatalf("schema of an empty database: %v, %v", cols, err)
	}

	cfg.Store.Addrs = []string{"127.0.0.1:1"} // nothing listens there
	if _, err := openStore(ctx, cfg, log, cfg.Limits); err == nil {
		t.Fatal("opened a ClickHouse store where no server listens")
	}
}
