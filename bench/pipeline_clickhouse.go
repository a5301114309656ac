package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	sluicech "github.com/sluice-io/sluice/internal/store/clickhouse"
)

// The pipeline benchmark on ClickHouse (issue 18). With --store
// clickhouse://…, every sluice of the benchmark runs with serve --store
// (the pipeline stores into that database), and a drain's CPU is sluice's
// plus the ClickHouse servers' (--clickhouse-dir: the directory of
// scripts/clickhouse.sh start, whose serverN/pid name them): DuckDB works
// inside sluice's process, ClickHouse in its own, so events per
// CPU-second compare the two engines only with both counted.
//
// Each drain also records what the servers did (system.events, summed
// over the servers, after minus before; the database's active parts
// after): the saturation estimate of docs/clickhouse.md rests on those.
//
// --nodes 1,3 adds drains by several sluice nodes: for each entry, a new
// project's --nodes-events events preloaded (pipeline off), then drained by that many
// `sluice serve` processes with the pipeline on, one consumer group, each
// its own data dir and ports, the same organization and the same store (a
// fresh database per entry, so no entry finds the claims of another).

// storeArgs are the serve flags that select the benchmark's store.
func (c pipeConfig) storeArgs() []string {
	if c.store == "" {
		return nil
	}
	return []string{"--store", c.store}
}

// checkStore refuses a ClickHouse store whose servers' CPU cannot be read,
// and --nodes without one.
func (c pipeConfig) checkStore() error {
	if c.store == "" {
		if c.chDir != "" {
			return fmt.Errorf("--clickhouse-dir is for --store clickhouse://…")
		}
		if len(c.nodes) > 0 {
			return fmt.Errorf("--nodes needs --store clickhouse://… (with DuckDB each node stores only its own partitions' events)")
		}
		return nil
	}
	if !strings.HasPrefix(c.store, "clickhouse://") {
		return fmt.Errorf("--store %q: only clickhouse://… (empty: DuckDB)", c.store)
	}
	if _, err := sluicech.ParseURL(c.store); err != nil {
		return fmt.Errorf("--store: %w", err)
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

// parseNodes reads --nodes: a list of node counts ("1,3"), each ≥ 1.
func parseNodes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--nodes %q: a list of node counts ≥ 1, e.g. 1,3", s)
		}
		out = append(out, n)
	}
	return out, nil
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

// chOpen connects to one ClickHouse server (addr) with cfg's credentials,
// in database db ("" for the server's default).
func chOpen(cfg sluicech.Config, addr, db string) (ch.Conn, error) {
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, Auth: ch.Auth{Database: db, Username: cfg.Username, Password: cfg.Password},
		TLS: cfg.TLS, Protocol: ch.Native})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return conn, nil
}

// chServers are the addresses of every server holding the store: the
// cluster's shards (system.clusters) or the URL's first host.
func chServers(ctx context.Context, cfg sluicech.Config) ([]string, error) {
	if cfg.Cluster == "" {
		return cfg.Addrs[:1], nil
	}
	conn, err := chOpen(cfg, cfg.Addrs[0], "")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, "SELECT host_address, port FROM system.clusters WHERE cluster = ?", cfg.Cluster)
	if err != nil {
		return nil, fmt.Errorf("reading cluster %s: %w", cfg.Cluster, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s:%d", host, port))
	}
	return out, rows.Err()
}

// chServerFigures are what the ClickHouse servers did during one drain.
type chServerFigures struct {
	// Counters are system.events after minus before, summed over the
	// servers (InsertedRows, SelectedRows, MergedRows, UserTimeMicroseconds,
	// …; the names are 18.16's).
	Counters map[string]int64 `json:"counters"`
	// The database's active parts after the drain, over the servers.
	Parts      int64 `json:"active_parts"`
	PartsRows  int64 `json:"active_parts_rows"`
	PartsBytes int64 `json:"active_parts_bytes_on_disk"`
}

// chSnapshot reads every server's system.events, summed; nil for DuckDB.
func (c pipeConfig) chSnapshot(ctx context.Context) (map[string]int64, error) {
	if c.store == "" {
		return nil, nil
	}
	cfg, err := sluicech.ParseURL(c.store)
	if err != nil {
		return nil, err
	}
	servers, err := chServers(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sum := map[string]int64{}
	for _, addr := range servers {
		conn, err := chOpen(cfg, addr, "")
		if err != nil {
			return nil, err
		}
		rows, err := conn.Query(ctx, "SELECT event, value FROM system.events")
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("reading system.events on %s: %w", addr, err)
		}
		for rows.Next() {
			var name string
			var v uint64
			if err := rows.Scan(&name, &v); err != nil {
				rows.Close()
				conn.Close()
				return nil, err
			}
			sum[name] += int64(v)
		}
		rows.Close()
		conn.Close()
	}
	return sum, nil
}

// chAfter completes f after a drain: the counters' differences and the
// database's active parts.
func (c pipeConfig) chAfter(ctx context.Context, before map[string]int64) (*chServerFigures, error) {
	after, err := c.chSnapshot(ctx)
	if err != nil || after == nil {
		return nil, err
	}
	f := &chServerFigures{Counters: map[string]int64{}}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			f.Counters[k] = d
		}
	}
	cfg, _ := sluicech.ParseURL(c.store)
	servers, err := chServers(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for _, addr := range servers {
		conn, err := chOpen(cfg, addr, "")
		if err != nil {
			return nil, err
		}
		var parts, rows, bytes uint64
		err = conn.QueryRow(ctx, "SELECT count(), sum(rows), sum(bytes_on_disk) FROM system.parts WHERE active AND database = ?", cfg.Database).Scan(&parts, &rows, &bytes)
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("reading system.parts on %s: %w", addr, err)
		}
		f.Parts += int64(parts)
		f.PartsRows += int64(rows)
		f.PartsBytes += int64(bytes)
	}
	return f, nil
}

// withDatabase is a clickhouse:// URL with another database.
func withDatabase(u, db string) (string, error) {
	rest, query, hasQuery := strings.Cut(u, "?")
	i := strings.LastIndexByte(rest, '/')
	if i < len("clickhouse://") {
		return "", fmt.Errorf("%s: no database in the URL", u)
	}
	out := rest[:i+1] + db
	if hasQuery {
		out += "?" + query
	}
	cfg, err := sluicech.ParseURL(out)
	if err != nil || cfg.Database != db {
		return "", fmt.Errorf("%s: cannot name database %s in it (%v)", u, db, err)
	}
	return out, nil
}

// nodesFigures are one drain by several sluice nodes (--nodes).
type nodesFigures struct {
	Nodes          int          `json:"nodes"`
	Events         int          `json:"events"`
	Database       string       `json:"database"`
	PreloadSeconds float64      `json:"preload_seconds"`
	Drain          drainFigures `json:"drain"`
}

// nodesDrain preloads a new project (pipeline off, sluice on the main data
// dir) into a fresh database and drains it with n sluice nodes at once.
func nodesDrain(ctx context.Context, c pipeConfig, i, n int, nice []string, pl [][]byte) (nodesFigures, error) {
	cfg, _ := sluicech.ParseURL(c.store)
	f := nodesFigures{Nodes: n, Events: c.nodesEvents, Database: fmt.Sprintf("%s_nodes%d_%d", cfg.Database, i, n)}
	c.events = c.nodesEvents
	var err error
	if c.store, err = withDatabase(c.store, f.Database); err != nil {
		return f, err
	}
	dataDir := filepath.Join(c.workDir, "pipeline-data")
	p, err := preloadProject(ctx, c, dataDir, nice, pl, fmt.Sprintf("pipeline-nodes-%d-%d", i, n), fmt.Sprintf("pipeline-nodes%d-%d-preload", i, n), &f.PreloadSeconds)
	if err != nil {
		return f, err
	}
	if err := deleteOtherRawTopics(ctx, c.brokers, p.ID); err != nil {
		return f, fmt.Errorf("deleting the earlier drains' raw topics: %w", err)
	}
	// Every node of one deployment has the same organization.
	var org struct {
		ID  string `json:"org_id"`
		Key string `json:"org_key"`
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, "org.json"))
	if err == nil {
		err = json.Unmarshal(raw, &org)
	}
	if err != nil {
		return f, fmt.Errorf("reading the organization of %s: %w", dataDir, err)
	}
	procs := make([]*sluiceProc, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n { // at once: no node drains alone while the others start
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := dataDir
			if k > 0 {
				dir = fmt.Sprintf("%s-node%d", dataDir, k+1)
			}
			args := append(c.storeArgs(), "--org-id", org.ID, "--org-key", org.Key)
			procs[k], errs[k] = startSluice(ctx, c.bin, dir, c.brokers, true, nice,
				filepath.Join(c.workDir, fmt.Sprintf("pipeline-nodes%d-%d-node%d", i, n, k+1)), args...)
		}()
	}
	wg.Wait()
	defer func() {
		for _, p := range procs {
			if p != nil {
				p.stop()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return f, err
		}
	}
	logf("pipeline: %d node(s) draining %d events into database %s", n, c.events, f.Database)
	err = drain(ctx, c, procs, p, &f.Drain)
	return f, err
}

// engine names the store measured.
func (c pipeConfig) engine() string {
	if c.store == "" {
		return "DuckDB"
	}
	return "ClickHouse"
}
