// Package clickhouse is the store engine over a ClickHouse server, shared by
// every sluice node that points at it (docs/clickhouse.md). It speaks the
// native protocol (github.com/ClickHouse/clickhouse-go/v2) and writes only
// SQL that ClickHouse 18.16 (Debian's package) runs.
//
// Layout: one table per (project, collection), one typed column per leaf
// key (package leaf) like the DuckDB engine, plus the fixed columns below.
// Tables are ReplacingMergeTree ordered by keen.id; a table that may hold
// an event twice (two nodes racing on a partition, a property deletion's
// rewrite) is marked and read with FINAL, so that each event counts once
// (dirty.go).
package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluice-io/sluice/internal/limits"
)

// Config is where the store lives.
type Config struct {
	Addrs    []string // host:port of the native protocol
	Database string
	Username string
	Password string
	TLS      *tls.Config // nil: plain TCP
	// DialTimeout bounds connecting (0: 10 s).
	DialTimeout time.Duration
	// Cluster, when set, names the cluster (the servers' remote_servers)
	// whose shards hold the tables (ddl.go). Addrs are then only where
	// the engine first connects: the shards and their replicas are read
	// from system.clusters, so every node finds them in the same order.
	Cluster string

	// wrap, when set (tests), wraps every connection the store opens.
	wrap func(driver.Conn) driver.Conn
	// settleEvery, when set (tests), replaces settleEvery; negative:
	// no settling loop.
	settleEvery time.Duration
}

// ParseURL reads a --store URL:
//
//	clickhouse://[user[:password]@]host:port[,host:port...]/database[?secure=true&skip_verify=true&dial_timeout=10s&cluster=NAME]
//
// Several hosts are tried in turn (failover). With cluster, the tables are
// sharded over that cluster's shards, found in system.clusters.
//
// Any other parameter is refused, naming it.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("clickhouse store URL: %w", err)
	}
	if u.Scheme != "clickhouse" {
		return Config{}, fmt.Errorf("clickhouse store URL: scheme %q, want clickhouse://", u.Scheme)
	}
	var c Config
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			continue
		}
		if _, _, err := splitHostPort(h); err != nil {
			return Config{}, fmt.Errorf("clickhouse store URL: host %q: %w", h, err)
		}
		c.Addrs = append(c.Addrs, h)
	}
	if len(c.Addrs) == 0 {
		return Config{}, errors.New("clickhouse store URL: no host:port")
	}
	c.Database = strings.Trim(u.Path, "/")
	if c.Database == "" {
		return Config{}, errors.New("clickhouse store URL: no database (clickhouse://host:port/DATABASE)")
	}
	if !isIdent(c.Database) {
		return Config{}, fmt.Errorf("clickhouse store URL: database %q: letters, digits and _ only", c.Database)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	secure, skipVerify := false, false
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "secure", "skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("clickhouse store URL: %s=%q is not a boolean", k, v)
			}
			if k == "secure" {
				secure = b
			} else {
				skipVerify = b
			}
		case "cluster":
			if !isIdent(v) {
				return Config{}, fmt.Errorf("clickhouse store URL: cluster=%q: letters, digits and _ only", v)
			}
			c.Cluster = v
		case "dial_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Config{}, fmt.Errorf("clickhouse store URL: dial_timeout=%q is not a positive duration", v)
			}
			c.DialTimeout = d
		default:
			return Config{}, fmt.Errorf("clickhouse store URL: parameter %q is not supported (secure, skip_verify, dial_timeout, cluster are)", k)
		}
	}
	if skipVerify && !secure {
		return Config{}, errors.New("clickhouse store URL: skip_verify needs secure=true")
	}
	if secure {
		c.TLS = &tls.Config{InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12} // #nosec G402 -- only when asked for
	}
	return c, nil
}

func splitHostPort(h string) (string, int, error) {
	i := strings.LastIndexByte(h, ':')
	if i <= 0 {
		return "", 0, errors.New("want host:port")
	}
	p, err := strconv.Atoi(h[i+1:])
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, errors.New("bad port")
	}
	return h[:i], p, nil
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			return false
		}
	}
	return s != ""
}

// Store is the ClickHouse engine (store.Store).
type Store struct {
	conn driver.Conn // reads (any server)
	// shards are one connection per shard (Config.Cluster): to its
	// replicas in the cluster's order, so to the first that answers;
	// nil on one server.
	shards []driver.Conn
	// replicas are, when a shard has several replicas (the tables are
	// then Replicated, replicated.go), one connection per server: per
	// shard, its replicas in the cluster's order.
	replicas [][]driver.Conn
	cluster  string
	db       string // quoted database name
	// maxProps is limits.Config.MaxPropertiesPerCollection: the leaf
	// columns one collection's table may have.
	maxProps int

	// mu serialises Inserts of this process: the existing-id and
	// uniqueness-token checks and the writes that follow them are one
	// step per process (docs/clickhouse.md, "Exactly once").
	mu  sync.Mutex
	log *slog.Logger
	// stopSettle ends the settling loop (settle.go); settled is closed
	// when it has ended.
	stopSettle context.CancelFunc
	settled    chan struct{}

	// delMu keeps this process's queries from reading a table or column
	// a Delete is dropping (they take it for reading, a Delete for
	// writing); a query on another node may still fail while one runs.
	delMu sync.RWMutex
}

// Open connects to the server and creates the database and the shared
// tables if they are missing, with the default limits.
func Open(ctx context.Context, c Config, log *slog.Logger) (*Store, error) {
	return OpenLimits(ctx, c, log, limits.Default())
}

// OpenLimits is Open with limits l.
func OpenLimits(ctx context.Context, c Config, log *slog.Logger, l limits.Config) (*Store, error) {
	if !isIdent(c.Database) {
		return nil, fmt.Errorf("clickhouse store: database %q: letters, digits and _ only", c.Database)
	}
	if l.MaxPropertiesPerCollection < 1 {
		return nil, fmt.Errorf("clickhouse store: MaxPropertiesPerCollection %d; at least 1", l.MaxPropertiesPerCollection)
	}
	dt := c.DialTimeout
	if dt == 0 {
		dt = 10 * time.Second
	}
	open := func(addrs []string) (driver.Conn, error) {
		conn, err := ch.Open(&ch.Options{
			Addr:        addrs,
			Auth:        ch.Auth{Username: c.Username, Password: c.Password},
			TLS:         c.TLS,
			DialTimeout: dt,
			// 18.16 speaks only the native protocol to this client.
			Protocol: ch.Native,
			// Failover in the given order: a shard's writes go to the
			// first of its replicas that answers (replicated.go).
			ConnOpenStrategy: ch.ConnOpenInOrder,
		})
		if err != nil {
			return nil, fmt.Errorf("clickhouse store: connecting to %v: %w", addrs, err)
		}
		if c.wrap != nil {
			return c.wrap(conn), nil
		}
		return conn, nil
	}
	conn, err := open(c.Addrs)
	if err != nil {
		return nil, err
	}
	s := &Store{conn: conn, cluster: c.Cluster, db: quoteIdent(c.Database), maxProps: l.MaxPropertiesPerCollection, log: log}
	if c.Cluster != "" {
		shards, err := clusterShards(ctx, conn, c.Cluster)
		if err != nil {
			s.Close()
			return nil, err
		}
		replicated := hasReplicas(shards)
		if replicated {
			if err := checkSettings(ctx, s.conn); err != nil {
				s.Close()
				return nil, err
			}
		}
		for _, replicas := range shards {
			sc, err := open(replicas)
			if err != nil {
				s.Close()
				return nil, err
			}
			s.shards = append(s.shards, sc)
			if !replicated {
				continue
			}
			var rcs []driver.Conn
			for _, r := range replicas {
				rc, err := open([]string{r})
				if err != nil {
					s.Close()
					return nil, err
				}
				rcs = append(rcs, rc)
			}
			s.replicas = append(s.replicas, rcs)
		}
	}
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, err
	}
	every := c.settleEvery
	if every == 0 {
		every = settleEvery
	}
	if every > 0 {
		ctx, stop := context.WithCancel(context.Background())
		s.stopSettle, s.settled = stop, make(chan struct{})
		go func() { defer close(s.settled); s.settleLoop(ctx, every) }()
	}
	if c.Cluster != "" {
		log.Info("clickhouse store: tables sharded", "cluster", c.Cluster, "shards", len(s.shards), "replicated", s.replicas != nil, "database", c.Database)
	}
	return s, nil
}

// clusterShards returns, per shard of the cluster in shard order, the
// native addresses of its replicas.
func clusterShards(ctx context.Context, conn driver.Conn, cluster string) ([][]string, error) {
	rows, err := conn.Query(ctx, "SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = "+str(cluster)+" ORDER BY shard_num, replica_num")
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: reading cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var shards [][]string
	last := uint32(0)
	for rows.Next() {
		var shard uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &host, &port); err != nil {
			return nil, fmt.Errorf("clickhouse store: reading cluster %s: %w", cluster, err)
		}
		if shard != last {
			shards = append(shards, nil)
			last = shard
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse store: reading cluster %s: %w", cluster, err)
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("clickhouse store: the server knows no cluster %q (remote_servers)", cluster)
	}
	return shards, nil
}

// The shared tables, beside one table per collection and dirtyTable:
//   - claims: every claim of a keen.id of a project by a writer (its
//     version) for a table, written before the event, for Insert's
//     idempotence across collections and nodes and its detection of
//     rival writers. Plain MergeTree: two claims of one keen.id both stay.
//     Ordered by the raw record's position (src, off), so that looking up
//     a batch's claims reads the granules of its offset ranges, not every
//     granule (claims.go).
//   - tokens: the holder of each uniqueness token of a collection.
const (
	claimsTable = "sluice_claims"
	tokensTable = "sluice_tokens"
)

func (s *Store) init(ctx context.Context) error {
	if err := s.onEach(func(c driver.Conn) error { return c.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.db) }); err != nil && !s.existing(ctx, err, nil) {
		return fmt.Errorf("clickhouse store: creating database %s: %w", s.db, err)
	}
	// A database of the layout before claims (keen.ids in sluice_ids,
	// every read with FINAL) would be read as if its events were never
	// claimed: processed again, they would be stored twice, unmarked.
	var old uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = "+str(unquote(s.db))+" AND name = 'sluice_ids'").Scan(&old); err != nil {
		return fmt.Errorf("clickhouse store: reading the tables of %s: %w", s.db, err)
	}
	if old > 0 {
		return fmt.Errorf("clickhouse store: database %s was written by an earlier sluice (table sluice_ids); this one keeps keen.ids in %s and is not migrated: use a new database", s.db, claimsTable)
	}
	// Claims before their source position was kept were ordered by
	// keen.id; that layout is not migrated either.
	var cols, src uint64
	if err := s.conn.QueryRow(ctx, "SELECT count(), countIf(name = 'src') FROM system.columns WHERE database = "+str(unquote(s.db))+" AND table = "+str(claimsTable)).Scan(&cols, &src); err != nil {
		return fmt.Errorf("clickhouse store: reading the columns of %s.%s: %w", s.db, claimsTable, err)
	}
	if cols > 0 && src == 0 {
		return fmt.Errorf("clickhouse store: database %s was written by an earlier sluice (%s without src); this one orders claims by their raw record's position and is not migrated: use a new database", s.db, claimsTable)
	}
	if err := s.createTable(ctx, claimsTable, "project String, id String, tbl String, _v UInt64, src String, off Int64",
		"MergeTree ORDER BY (src, off, project, id)"); err != nil {
		return fmt.Errorf("clickhouse store: creating %s: %w", claimsTable, err)
	}
	if err := s.createTable(ctx, dirtyTable, "tbl String, _v UInt64", "MergeTree ORDER BY tbl"); err != nil {
		return fmt.Errorf("clickhouse store: creating %s: %w", dirtyTable, err)
	}
	if err := s.createTable(ctx, doneTable, "tbl String, _v UInt64", "MergeTree ORDER BY tbl"); err != nil {
		return fmt.Errorf("clickhouse store: creating %s: %w", doneTable, err)
	}
	if err := s.createTable(ctx, tokensTable, "project String, collection String, token String, id String, created Int64, _v UInt64",
		"ReplacingMergeTree(_v) ORDER BY (project, collection, token)"); err != nil {
		return fmt.Errorf("clickhouse store: creating %s: %w", tokensTable, err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	if s.stopSettle != nil {
		s.stopSettle()
		<-s.settled
	}
	err := s.conn.Close()
	for _, c := range s.shards {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	for _, rs := range s.replicas {
		for _, c := range rs {
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
	}
	return err
}

func firstWords(q string) string {
	if len(q) > 80 {
		return q[:80] + "…"
	}
	return q
}

// version is a row's ReplacingMergeTree version: the newest write wins.
func version() uint64 { return uint64(time.Now().UnixNano()) }
