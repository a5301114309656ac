// Package server wires `sluice serve`: data dir, organization credentials,
// TLS material, backend (embedded or external), registry, listeners, and an
// orderly shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluice-io/sluice/internal/backend"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/dataset"
	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/event"
	"github.com/sluice-io/sluice/internal/gateway"
	"github.com/sluice-io/sluice/internal/health"
	"github.com/sluice-io/sluice/internal/httpapi"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/pipeline"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/rawtrim"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
	"github.com/sluice-io/sluice/internal/store"
	"github.com/sluice-io/sluice/internal/store/clickhouse"
	"github.com/sluice-io/sluice/internal/store/duckdb"
	"github.com/sluice-io/sluice/internal/tlsfiles"
)

// ErrBackendUnreachable is returned when the backend does not answer at start.
var ErrBackendUnreachable = backend.ErrUnreachable

// Run serves until ctx is cancelled, then shuts down in order. Human-readable
// start-up information, ending with the one "ready" line, goes to out.
func Run(ctx context.Context, cfg config.Serve, out io.Writer, logger *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	org, generated, err := loadOrg(cfg)
	if err != nil {
		return err
	}
	tlsMat, err := tlsfiles.Load(filepath.Join(cfg.DataDir, "tls"), cfg.TLSCert, cfg.TLSKey, cfg.AdvertisedHost)
	if err != nil {
		return err
	}
	httpTLS, err := httpTLSMaterial(cfg, tlsMat)
	if err != nil {
		return err
	}

	// Before anything opens descriptors: the caps must leave room for them.
	lim := cfg.Limits
	lim.Connections = connectionLimits(lim.Connections, cfg.Backend.Embedded(), logger)
	var produceQuota *quota.Limiter
	if lim.ProduceBytesPerSecond > 0 {
		produceQuota = quota.New(lim.ProduceBytesPerSecond, time.Second)
	}

	// Backend: the embedded log unless brokers are given; the same client
	// path either way.
	brokers, backendCfg := cfg.Backend.Brokers, cfg.Backend
	var elog *embedded.Log
	if cfg.Backend.Embedded() {
		elog, err = embedded.StartAuthenticated(filepath.Join(cfg.DataDir, "kafka"), logger)
		if err != nil {
			return err
		}
		defer elog.Close()
		brokers = elog.Addrs()
		// The embedded log requires the credentials kept in its data dir.
		creds, _ := elog.Credentials()
		backendCfg.SASLMechanism, backendCfg.SASLUsername, backendCfg.SASLPassword = creds.Mechanism, creds.Username, creds.Password
	}
	b, err := backend.Connect(ctx, backendCfg, brokers, logger)
	if err != nil {
		return err
	}
	defer b.Close()
	reg, err := registry.Open(ctx, b, logger)
	if err != nil {
		return err
	}
	defer reg.Close()

	// Bind every listener before announcing addresses: with port 0 the
	// kernel picks the port and the advertised addresses must use it.
	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	defer httpLn.Close()
	inboundLn, err := net.Listen("tcp", cfg.InboundAddr)
	if err != nil {
		return fmt.Errorf("listening for Kafka Inbound on %s: %w", cfg.InboundAddr, err)
	}
	defer inboundLn.Close()
	outboundLn, err := net.Listen("tcp", cfg.OutboundAddr)
	if err != nil {
		return fmt.Errorf("listening for Kafka Outbound on %s: %w", cfg.OutboundAddr, err)
	}
	defer outboundLn.Close()

	st, err := openStore(ctx, cfg, logger, lim)
	if err != nil {
		return err
	}
	defer st.Close()

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gwMetrics := gateway.NewMetrics(metrics)
	metrics.MustRegister(gateway.NewLagCollector(b.Admin(), logger))
	if m, ok := st.(memoryReporter); ok {
		metrics.MustRegister(storeMemoryGauge(m))
	}
	var gateways []*gateway.Gateway
	defer func() {
		// Listeners stop before the registry and backend they depend on.
		shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for _, g := range gateways {
			if err := g.Shutdown(shutCtx); err != nil {
				logger.Warn("Kafka listener shutdown", "err", err)
			}
		}
	}()
	for _, l := range []struct {
		role gateway.Role
		ln   net.Listener
		addr string
	}{{gateway.Inbound, inboundLn, cfg.InboundAddr}, {gateway.Outbound, outboundLn, cfg.OutboundAddr}} {
		g, err := gateway.New(ctx, gateway.Config{
			Role: l.role, Listener: l.ln, NodePortStep: nodePortStep(l.addr), AdvertisedHost: cfg.AdvertisedHost,
			TLS: tlsMat.Config, Registry: reg, Backend: b, Metrics: gwMetrics, Logger: logger,
			Limits: lim, ProduceQuota: produceQuota,
		})
		if err != nil {
			return err
		}
		gateways = append(gateways, g)
		g.Serve(ctx)
	}
	inboundBootstrap := advertised(cfg.AdvertisedHost, inboundLn)
	outboundBootstrap := advertised(cfg.AdvertisedHost, outboundLn)
	var geo *event.GeoIP
	if cfg.GeoIPDB != "" {
		if geo, err = event.OpenGeoIP(cfg.GeoIPDB); err != nil {
			return fmt.Errorf("--geoip-db: %w", err)
		}
		defer geo.Close()
	}
	proc, err := event.NewProcessor(geo)
	if err != nil {
		return err
	}
	mon := health.NewMonitor(healthPeriod, logger)
	if cfg.Pipeline {
		txnID, err := loadPipelineID(cfg.DataDir)
		if err != nil {
			return err
		}
		pipe, err := pipeline.Start(ctx, pipeline.Config{
			Backend: b, Registry: reg, Store: st, Processor: proc, Metrics: pipeline.NewMetrics(metrics), Logger: logger,
			TransactionalID: txnID,
		})
		if err != nil {
			return err
		}
		// The pipeline stops (finishing its batch) before the store closes.
		defer pipe.Close()
		if elog != nil {
			// The embedded log holds an index entry per batch in memory:
			// the raw records the pipeline has committed go (package rawtrim).
			trimCtx, stopTrim := context.WithCancel(ctx)
			trimmed := make(chan struct{})
			go func() {
				defer close(trimmed)
				rawtrim.New(b.Admin(), pipeline.Group, rawtrim.Interval, logger).Run(trimCtx)
			}()
			defer func() { stopTrim(); <-trimmed }()
		}
		mon.Add("pipeline", func(context.Context) (health.State, string) {
			if stuck, why := pipe.Health().Stuck(time.Now()); stuck {
				return health.Degraded, why
			}
			return health.OK, ""
		})
	}

	// HTTP events go to raw topics like Kafka-produced ones; the producer
	// closes after the HTTP server has answered its last request.
	httpKafka, err := httpapi.NewKafka(b, lim)
	if err != nil {
		return err
	}
	defer httpKafka.Close()
	mon.Add("backend", func(ctx context.Context) (health.State, string) {
		if err := b.Probe(ctx); err != nil {
			return health.Degraded, err.Error()
		}
		return health.OK, ""
	})
	mon.Add("disk", health.DiskProbe(cfg.DataDir, minFreeDisk))
	mon.CheckNow(ctx) // /healthz tells the truth from the first request on
	go mon.Run(ctx)
	api := httpapi.New(httpapi.Config{
		Registry: reg, OrgID: org.ID, OrgKey: org.Key, Store: st,
		InboundBootstrap: inboundBootstrap, OutboundBootstrap: outboundBootstrap,
		Metrics: metrics, Logger: logger,
		Processor: proc, Events: httpKafka, Offsets: httpKafka, CAFile: tlsMat.CAFile,
		Health: mon.Report, MaxExtractionBytes: lim.MaxExtractionBytes, MaxExtractionBytesInFlight: lim.MaxExtractionBytesInFlight, ProduceQuota: produceQuota,
	})
	// Every process takes part in the cached-query schedule; one leads,
	// and keeps the datasets' results too.
	sched, err := saved.NewSchedule(saved.ScheduleConfig{
		Registry: reg, Runner: saved.Runner{Store: st, MaxExtractionBytes: lim.MaxExtractionBytes},
		Tasks: []saved.Task{&dataset.Refresher{Registry: reg, Store: st, Logger: logger}},
		ID:    registry.NewKey()[:16], Beat: saved.DefaultBeat, TTL: saved.DefaultTTL, Grace: saved.DefaultGrace, Logger: logger,
	})
	if err != nil {
		return err
	}
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); sched.Run(schedCtx) }()
	// The schedule leaves the group before the registry and store close.
	defer func() { stopSched(); <-schedDone }()
	if cfg.DebugAddr != "" {
		if err := serveDebug(ctx, cfg.DebugAddr, logger); err != nil {
			return err
		}
	}
	var httpTLSConfig *tls.Config
	httpScheme := "http://"
	if httpTLS != nil {
		httpTLSConfig, httpScheme = httpTLS.Config, "https://"
	}
	httpSrv, httpCapped := newHTTPServer(api, lim.Connections, httpLn, httpTLSConfig, metrics, logger)
	httpDone := make(chan error, 1)
	go func() { httpDone <- serveHTTP(httpSrv, httpCapped) }()

	info := startInfo{
		inboundNodes: gateways[0].Endpoints(), outboundNodes: gateways[1].Endpoints(),
		cfg: cfg, org: org, orgGenerated: generated, tls: tlsMat, brokers: brokers, embedded: elog != nil,
		httpURL: httpScheme + advertised(cfg.AdvertisedHost, httpLn), httpTLS: httpTLS, inbound: inboundBootstrap, outbound: outboundBootstrap,
	}
	if cfg.Demo {
		if info.demo, err = ensureDemo(ctx, reg, org.ID); err != nil {
			return err
		}
	}
	info.print(out)
	api.SetReady()
	fmt.Fprintln(out, "sluice is ready")
	logger.Info("ready", "http", httpLn.Addr().String(), "inbound", inboundLn.Addr().String(), "outbound", outboundLn.Addr().String())

	select {
	case <-ctx.Done():
	case err := <-httpDone:
		return fmt.Errorf("HTTP server stopped: %w", err)
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// In-flight requests are answered before the registry and backend close.
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("HTTP shutdown", "err", err)
	}
	return nil
}

// httpTLSMaterial is the HTTP API's certificate: nil without --http-tls;
// the operator's --http-tls-cert; else the Kafka listeners' (--tls-cert, or
// the one sluice's CA signed for localhost and the advertised host), so
// that clients trust one CA for every listener.
func httpTLSMaterial(cfg config.Serve, kafka *tlsfiles.Material) (*tlsfiles.Material, error) {
	switch {
	case !cfg.HTTPTLS:
		return nil, nil
	case cfg.HTTPTLSCert != "":
		m, err := tlsfiles.Load("", cfg.HTTPTLSCert, cfg.HTTPTLSKey, "")
		if err != nil {
			return nil, fmt.Errorf("--http-tls-cert: %w", err)
		}
		return m, nil
	default:
		return kafka, nil
	}
}

// healthPeriod is how often the health probes run, and how long each may
// take.
const healthPeriod = 2 * time.Second

// minFreeDisk is the free space of the data directory under which health
// turns degraded: the store's and the embedded log's writes need room.
const minFreeDisk = 512 << 20

// serveDebug serves pprof on its own address, never on the public API port.
func serveDebug(ctx context.Context, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for --debug-addr on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("debug server stopped", "err", err)
		}
	}()
	logger.Info("pprof", "addr", ln.Addr().String())
	return nil
}

// nodePortStep spaces the per-broker listeners gateway.DefaultNodePortStep
// ports above the bootstrap port; a kernel-chosen bootstrap port gets
// kernel-chosen node ports.
func nodePortStep(addr string) int {
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		return 0
	}
	return gateway.DefaultNodePortStep
}

// advertised is host:port of ln as clients should dial it.
func advertised(host string, ln net.Listener) string {
	return net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// ensureDemo returns the organization's project named "demo", creating it
// on first start.
func ensureDemo(ctx context.Context, reg *registry.Registry, orgID string) (registry.Project, error) {
	var found *registry.Project
	reg.Read(func(v *registry.View) {
		for _, p := range v.Projects(orgID) {
			if p.Name == "demo" {
				found = &p
				return
			}
		}
	})
	if found != nil {
		return *found, nil
	}
	p, err := reg.CreateProject(ctx, orgID, "demo")
	if err != nil {
		return p, fmt.Errorf("creating the demo project: %w", err)
	}
	return p, nil
}

// openStore opens the event store: the ClickHouse database --store names,
// or the embedded DuckDB store under the data dir.
func openStore(ctx context.Context, cfg config.Serve, logger *slog.Logger, lim limits.Config) (store.Store, error) {
	if cfg.Store != nil {
		st, err := clickhouse.OpenLimits(ctx, *cfg.Store, logger, lim)
		if err != nil {
			return nil, fmt.Errorf("opening the ClickHouse event store (--store): %w", err)
		}
		logger.Info("event store: ClickHouse", "addrs", cfg.Store.Addrs, "database", cfg.Store.Database)
		return st, nil
	}
	st, err := duckdb.OpenLimits(filepath.Join(cfg.DataDir, "store"), logger, lim)
	if err != nil {
		return nil, fmt.Errorf("opening the event store: %w", err)
	}
	return st, nil
}

// memoryReporter is a store that knows the memory it holds outside Go's
// heap (DuckDB's buffer manager).
type memoryReporter interface {
	MemoryBytes(context.Context) (int64, error)
}

// storeMemoryGauge reports m's memory as sluice_store_memory_bytes, read
// at each scrape (a second at most; -1 when it cannot be read).
func storeMemoryGauge(m memoryReporter) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_store_memory_bytes",
		Help: "Memory the embedded store (DuckDB's buffer manager) holds, outside Go's heap; -1 when it could not be read.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := m.MemoryBytes(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}
