package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The pipeline benchmark on ClickHouse (issue 18). With --store
// clickhouse://…, every sluice of the benchmark runs with serve --store
// (the pipeline stores into that database), and a drain's CPU is sluice's
// plus the ClickHouse servers' (--clickhouse-dir: the directory of
// scripts/clickhouse.sh start, whose serverN/pid name them): DuckDB works
// inside sluice's process, ClickHouse in its own, so events per
// CPU-second compare the two engines only with both counted.

// storeArgs are the serve flags that select the benchmark's store.
func (c pipeConfig) storeArgs() []string {
	if c.store == "" {
		return nil
	}
	return []string{"--store", c.store}
}

// checkStore refuses a ClickHouse store whose servers' CPU cannot be read.
func (c pipeConfig) checkStore() error {
	if c.store == "" {
		if c.chDir != "" {
			return fmt.Errorf("--clickhouse-dir is for --store clickhouse://…")
		}
		return nil
	}
	if !strings.HasPrefix(c.store, "clickhouse://") {
		return fmt.Errorf("--store %q: only clickhouse://… (empty: DuckDB)", c.store)
	}
	pids, err := c.storePIDs()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if procCPU(pid) == (cpuTicks{}) {
			return fmt.Errorf("--clickhouse-dir %s: server process %s is not running", c.chDir, pid)
		}
	}
	return nil
}

// storePIDs are the ClickHouse servers' process ids.
func (c pipeConfig) storePIDs() ([]string, error) {
	if c.chDir == "" {
		return nil, fmt.Errorf("--store clickhouse://… needs --clickhouse-dir (the servers' CPU counts in events per CPU-second)")
	}
	files, _ := filepath.Glob(filepath.Join(c.chDir, "server*", "pid"))
	if len(files) == 0 {
		return nil, fmt.Errorf("--clickhouse-dir %s: no server*/pid (scripts/clickhouse.sh start --dir)", c.chDir)
	}
	var pids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pids = append(pids, strings.TrimSpace(string(b)))
	}
	return pids, nil
}

// storeCPU is the CPU seconds (utime+stime) the store's own processes have
// used so far: 0 for DuckDB (it runs in sluice's).
func (c pipeConfig) storeCPU() float64 {
	if c.store == "" {
		return 0
	}
	pids, _ := c.storePIDs()
	total := 0.0
	for _, pid := range pids {
		total += procCPU(pid).seconds(c.clkTck)
	}
	return total
}
