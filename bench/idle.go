package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The idle connections benchmark (sluicebench idle, bench/run.sh --benches
// idle): what do many idle client connections cost sluice, and is a new
// producer still served while they are held? One sluice (gateway only,
// --pipeline=false) with its connection caps raised to fit; then, twice:
//
//  1. authenticated: --conns TLS connections to the Inbound listener, each
//     through SaslHandshake and SaslAuthenticate (PLAIN, the project's
//     write key), then silent. No request follows, so sluice opens no
//     backend connection for them;
//  2. unauthenticated: --conns TLS connections that never start SASL.
//     sluice closes each at its authentication timeout (10 s) and takes at
//     most 256 unauthenticated connections per remote address, so they
//     come from --per-address connections per loopback address (127.0.x.y)
//     and are measured at once;
//
// sampling sluice's RSS (VmRSS) before and while they are held and its
// peak (VmHWM), and timing --producers new producers (franz-go, idempotent,
// acks=all, one 1 KB record each) from client creation to the first
// acknowledgement: before the connections, and while they are held.
type idleConfig struct {
	bin, brokers, workDir string
	conns, perAddress     int
	dialers, producers    int
	settle                time.Duration
	reportFlags
}

// idleRun is one run's figures.
type idleRun struct {
	Name string
	// Opened connections finished TLS (and SASL); Failed did not (refused
	// or closed by sluice, or an error); Held were still open when RSS was
	// sampled, HeldAfter after the producers' measurement.
	Opened, Failed    int
	Held, HeldAfter   int
	FirstErrors       []string
	OpenSeconds       float64
	RSSBeforeKiB      int64
	RSSHeldKiB        int64
	PeakKiB           int64
	FirstAckMs        []float64 // while held
	FirstAckErrors    []string  // producers not served while held
	FirstAckBeforeMs  []float64 // before the connections
	MeasuredAfterOpen float64   // seconds from the last connection to the RSS sample
}

type idleReport struct {
	Started, Finished time.Time
	Machine           machine
	LoadEnd           string
	Conns, PerAddress int
	// Asked is --conns; Conns is less when sluice's lowered caps would
	// not hold that many and still leave room for the producers.
	Asked      int
	NoFile     uint64 // the load generator's RLIMIT_NOFILE
	SluiceCaps string // sluice's warning when it lowered its caps, else ""
	Runs       []idleRun
}

func idleBench(args []string) error {
	var c idleConfig
	fs := flag.NewFlagSet("sluicebench idle", flag.ContinueOnError)
	fs.StringVar(&c.bin, "sluice-bin", "", "the sluice binary")
	fs.StringVar(&c.brokers, "kafka-brokers", "", "the broker's PLAINTEXT listener (sluice's backend)")
	fs.StringVar(&c.workDir, "work-dir", os.TempDir(), "where sluice's data dir and logs go")
	fs.IntVar(&c.conns, "conns", 10_000, "idle connections held in each run")
	fs.IntVar(&c.perAddress, "per-address", 200, "unauthenticated connections per loopback source address (sluice takes at most 256)")
	fs.IntVar(&c.dialers, "dialers", 32, "connections opened at once")
	fs.IntVar(&c.producers, "producers", 5, "new producers timed before and while the connections are held")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "wait after the last connection before sampling RSS")
	c.register(fs, "idle.md", "", "the figures as JSON (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.stamp()
	if c.bin == "" || c.brokers == "" {
		return errors.New("--sluice-bin and --kafka-brokers are required")
	}
	if c.conns < 1 || c.perAddress < 1 || c.dialers < 1 || c.producers < 1 {
		return errors.New("--conns, --per-address, --dialers and --producers must be positive")
	}
	nofile, err := raiseNoFile(uint64(c.conns) + 1024)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &idleReport{Started: time.Now(), Machine: describeMachine(), Conns: c.conns, Asked: c.conns, PerAddress: c.perAddress, NoFile: nofile}

	dataDir := filepath.Join(c.workDir, "idle-data")
	ca := filepath.Join(dataDir, "tls", "ca.pem")
	pl := payloads(64, 1024)
	var p project
	// Each run has a sluice of its own, so its RSS starts from a process
	// that has held no connection (Go keeps memory it has used).
	for i, auth := range []bool{true, false} {
		logPrefix := filepath.Join(c.workDir, fmt.Sprintf("idle-sluice-%d", i))
		limit := strconv.Itoa(rep.Asked + 256) // room for the producers
		sl, err := startSluice(ctx, c.bin, dataDir, c.brokers, false, nil, logPrefix,
			"--max-kafka-connections", limit, "--max-kafka-connections-per-project", limit, "--max-http-connections", "64")
		if err != nil {
			return err
		}
		if caps := loweredCaps(logPrefix + ".err"); caps != "" {
			rep.SluiceCaps = caps
			c.conns, c.perAddress = fitCaps(caps, c.conns, c.perAddress)
			rep.Conns, rep.PerAddress = c.conns, c.perAddress
			logf("idle: sluice lowered its connection caps to fit its descriptor limit: %s; holding %d connections, %d per address", caps, c.conns, c.perAddress)
		}
		if i == 0 {
			if p, err = createProject(ctx, sl.http, dataDir, "idle"); err != nil {
				sl.stop()
				return err
			}
		}
		r, err := idleOnce(ctx, c, sl, ca, p, pl, auth)
		if stopErr := sl.stop(); err == nil {
			err = stopErr
		}
		if err != nil {
			return fmt.Errorf("%s run: %w", r.Name, err)
		}
		rep.Runs = append(rep.Runs, r)
	}
	rep.Finished, rep.LoadEnd = time.Now(), loadAvg()
	return c.reportFlags.write(rep, rep.markdown(c))
}

// idleOnce is one run: producers timed, connections opened, RSS sampled,
// producers timed again, connections closed.
func idleOnce(ctx context.Context, c idleConfig, sl *sluiceProc, ca string, p project, pl [][]byte, auth bool) (idleRun, error) {
	r := idleRun{Name: "unauthenticated"}
	if auth {
		r.Name = "authenticated"
	}
	tlsCfg, err := idleTLS(ca)
	if err != nil {
		return r, err
	}
	// The collection exists (and sluice is warm) before anything is timed.
	if _, err := firstAck(ctx, sl.inbound, ca, p, pl[0]); err != nil {
		return r, fmt.Errorf("first producer: %w", err)
	}
	var errs []string
	if r.FirstAckBeforeMs, errs = firstAcks(ctx, c.producers, sl.inbound, ca, p, pl); len(errs) > 0 {
		return r, fmt.Errorf("producers before the connections: %s", strings.Join(errs, "; "))
	}
	resetPeakRSS(sl.pid)
	r.RSSBeforeKiB = procStatus(sl.pid, "VmRSS")
	logf("idle (%s): opening %d connections; sluice RSS %d MiB", r.Name, c.conns, r.RSSBeforeKiB>>10)

	var (
		mu       sync.Mutex
		conns    []net.Conn
		dialErrs = map[string]int{}
		held     atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
		closed   sync.WaitGroup
	)
	t0 := time.Now()
	for range c.dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= c.conns || ctx.Err() != nil {
					return
				}
				var src net.Addr
				if !auth {
					src = loopbackSource(i / c.perAddress)
				}
				nc, err := dialIdle(ctx, sl.inbound, src, tlsCfg, auth, p.ID, p.Write)
				mu.Lock()
				if err != nil {
					dialErrs[shortErr(err)]++
					mu.Unlock()
					continue
				}
				conns = append(conns, nc)
				mu.Unlock()
				held.Add(1)
				closed.Add(1)
				go func() { // notices sluice closing it
					defer closed.Done()
					io.Copy(io.Discard, nc)
					held.Add(-1)
				}()
			}
		}()
	}
	wg.Wait()
	r.OpenSeconds = time.Since(t0).Seconds()
	last := time.Now()
	r.Opened = len(conns)
	r.Failed = c.conns - r.Opened
	for e, n := range dialErrs {
		r.FirstErrors = append(r.FirstErrors, fmt.Sprintf("%d × %s", n, e))
	}
	logf("idle (%s): %d opened in %.1f s, %d failed %v", r.Name, r.Opened, r.OpenSeconds, r.Failed, r.FirstErrors)
	if auth {
		// Unauthenticated connections are closed at sluice's
		// authentication timeout: they are measured at once.
		sleepCtx(ctx, c.settle)
	}
	r.Held = int(held.Load())
	r.RSSHeldKiB = procStatus(sl.pid, "VmRSS")
	r.MeasuredAfterOpen = time.Since(last).Seconds()
	r.FirstAckMs, r.FirstAckErrors = firstAcks(ctx, c.producers, sl.inbound, ca, p, pl)
	r.HeldAfter = int(held.Load())
	r.PeakKiB = procStatus(sl.pid, "VmHWM")
	logf("idle (%s): %d held, sluice RSS %d MiB (peak %d MiB); first acks while held %v ms, not served %v; %d still held after",
		r.Name, r.Held, r.RSSHeldKiB>>10, r.PeakKiB>>10, r.FirstAckMs, r.FirstAckErrors, r.HeldAfter)
	for _, nc := range conns {
		nc.Close()
	}
	closed.Wait()
	if r.Opened == 0 {
		return r, errors.New("no connection opened")
	}
	return r, nil
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and checks it
// allows need descriptors.
func raiseNoFile(need uint64) (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", rl.Max, err)
		}
	}
	if rl.Cur < need {
		return rl.Cur, fmt.Errorf("RLIMIT_NOFILE is %d, the load generator needs %d: raise the hard limit (ulimit -Hn) or lower --conns", rl.Cur, need)
	}
	return rl.Cur, nil
}

// producerRoom is the connections a run leaves free under sluice's cap for
// the producers it times (each holds a bootstrap and a broker connection
// at most, one producer at a time), with a margin.
const producerRoom = 64

// fitCaps lowers the connections a run holds, and the unauthenticated ones
// per source address, to what sluice's lowered caps (loweredCaps) take
// with producerRoom to spare: a run that filled every slot would time
// producers that cannot connect, which says nothing of sluice's cost.
func fitCaps(caps string, conns, perAddress int) (int, int) {
	capOf := func(name string) int {
		for _, f := range strings.Fields(caps) {
			if v, ok := strings.CutPrefix(f, name+"="); ok {
				if n, err := strconv.Atoi(v); err == nil {
					return n
				}
			}
		}
		return 0
	}
	if n := capOf("max_kafka_connections"); n > 0 {
		conns = max(1, min(conns, n-producerRoom))
	}
	if n := capOf("max_kafka_pending_per_address"); n > 0 {
		perAddress = min(perAddress, n)
	}
	return conns, perAddress
}

// loweredCaps is sluice's warning that it lowered its connection caps to
// fit its descriptor limit, if it logged one.
func loweredCaps(errFile string) string {
	b, _ := os.ReadFile(errFile)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "caps lowered") {
			if i := strings.Index(line, "soft_before="); i >= 0 {
				return line[i:]
			}
			return line
		}
	}
	return ""
}

func idleTLS(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// loopbackSource is the k-th loopback source address, 127.0.x.y from
// 127.0.1.1: each holds --per-address unauthenticated connections.
func loopbackSource(k int) net.Addr {
	k += 256 + 1
	return &net.TCPAddr{IP: net.IPv4(127, 0, byte(k>>8), byte(k))}
}

// dialIdle opens a TLS connection to addr and, when auth, authenticates
// it with SASL/PLAIN as a Kafka client does (SaslHandshake v1,
// SaslAuthenticate v2).
func dialIdle(ctx context.Context, addr string, src net.Addr, cfg *tls.Config, auth bool, user, pass string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{LocalAddr: src}, Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !auth {
		return nc, nil
	}
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("sluicebench-idle"))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	resp, err := roundTrip(nc, f, hs, 1)
	if err == nil {
		if code := resp.(*kmsg.SASLHandshakeResponse).ErrorCode; code != 0 {
			err = fmt.Errorf("SaslHandshake: error %d", code)
		}
	}
	if err == nil {
		a := kmsg.NewPtrSASLAuthenticateRequest()
		a.Version, a.SASLAuthBytes = 2, []byte("\x00"+user+"\x00"+pass)
		resp, err = roundTrip(nc, f, a, 2)
		if err == nil {
			if r := resp.(*kmsg.SASLAuthenticateResponse); r.ErrorCode != 0 {
				msg := ""
				if r.ErrorMessage != nil {
					msg = *r.ErrorMessage
				}
				err = fmt.Errorf("SaslAuthenticate: error %d: %s", r.ErrorCode, msg)
			}
		}
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return nc, nil
}

// roundTrip writes req and reads its response.
func roundTrip(nc net.Conn, f *kmsg.RequestFormatter, req kmsg.Request, corr int32) (kmsg.Response, error) {
	if _, err := nc.Write(f.AppendRequest(nil, req, corr)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		return nil, fmt.Errorf("response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(nc, body); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() {
		body = body[1:] // an empty header tag section
	}
	return resp, resp.ReadFrom(body)
}

// firstAcks times n new producers, one after the other, and says why
// those not served were not.
func firstAcks(ctx context.Context, n int, addr, ca string, p project, pl [][]byte) (ms []float64, errs []string) {
	for i := range n {
		d, err := firstAck(ctx, addr, ca, p, pl[i%len(pl)])
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		ms = append(ms, float64(d.Microseconds())/1000)
	}
	return ms, errs
}

// firstAck is a new producer's time from its creation to the
// acknowledgement of its first record (connection, TLS, SASL, metadata,
// producer id, produce).
func firstAck(ctx context.Context, addr, ca string, p project, value []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	t0 := time.Now()
	cl, err := inboundClient(addr, ca, p, "idle")
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// shortErr is an error without the addresses that make each one unique.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s[:i], "127.0.") {
		return s[i+2:]
	}
	return s
}

func (r *idleReport) markdown(c idleConfig) string {
	var b strings.Builder
	b.WriteString("## Idle connections\n\n")
	m := r.Machine
	fmt.Fprintf(&b, "Written by `bench/run.sh --benches idle` (`bench/idle.go`). `%s` at commit %s, %s → %s; "+
		"%d cores (%s), %.0f GiB, Linux %s; load average %s at the start, %s at the end.\n\n", c.command, c.shortCommit()+c.modifiedNote(),
		r.Started.UTC().Format("2006-01-02 15:04"), r.Finished.UTC().Format("15:04 UTC"), m.Cores, m.CPUModel, m.MemGiB, m.Kernel, m.LoadAvg, r.LoadEnd)
	fmt.Fprintf(&b, "A sluice per run (`--pipeline=false`, `--max-kafka-connections` and `--max-kafka-connections-per-project` %d, "+
		"`--max-http-connections 64`; one warm-up producer first). Each run opens %d TLS connections to the Kafka Inbound listener, %d at a time, and holds them silent: "+
		"*authenticated* ones after SaslHandshake and SaslAuthenticate (PLAIN, the project's write key; no request follows, so no backend "+
		"connection is opened for them), sampled %s after the last one opened; *unauthenticated* ones never start SASL, so sluice closes each "+
		"at its authentication timeout (10 s) and takes at most 256 per remote address: they come from %d per loopback address "+
		"(127.0.x.y) and are sampled at once. A new producer (franz-go, idempotent, acks=all, one 1 KB record) is timed from client "+
		"creation to its first acknowledgement (connection, TLS, SASL, metadata, producer id, produce), %d one after the other, "+
		"before the connections and while they are held. Goal: 10,000 held under 1 GiB RSS, new producers still served. "+
		"The load generator's RLIMIT_NOFILE: %d.\n\n",
		r.Asked+256, r.Conns, c.dialers, c.settle, r.PerAddress, c.producers, r.NoFile)
	if r.SluiceCaps != "" {
		fmt.Fprintf(&b, "**sluice lowered its connection caps to fit its file descriptor limit** (`%s`), so each run holds %d connections, not the %d asked for "+
			"(%d under the cap, room for the producers), %d unauthenticated per address: **the goal's 10,000 is not measured** on this host.\n\n",
			r.SluiceCaps, r.Conns, r.Asked, producerRoom, r.PerAddress)
	}
	b.WriteString("| run | opened (failed) | held at the sample | sluice RSS before → held | per held connection | peak RSS | new producer's first ack before: p50 / max | while held: p50 / max | held after the producers |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		per := "—"
		if run.Held > 0 {
			per = fmt.Sprintf("%.1f KiB", float64(run.RSSHeldKiB-run.RSSBeforeKiB)/float64(run.Held))
		}
		before, held := sorted(run.FirstAckBeforeMs), sorted(run.FirstAckMs)
		whileHeld := "none served"
		if len(held) > 0 {
			whileHeld = fmt.Sprintf("%.0f / %.0f ms", quantile(held, 0.5), quantile(held, 1))
		}
		if len(run.FirstAckErrors) > 0 {
			whileHeld += fmt.Sprintf(" (**%d of %d not served**)", len(run.FirstAckErrors), len(run.FirstAckErrors)+len(held))
		}
		fmt.Fprintf(&b, "| %s | %d (%d) | %d (%.1f s after the last) | %d → %d MiB | %s | %d MiB | %.0f / %.0f ms | %s | %d |\n",
			run.Name, run.Opened, run.Failed, run.Held, run.MeasuredAfterOpen, run.RSSBeforeKiB>>10, run.RSSHeldKiB>>10, per, run.PeakKiB>>10,
			quantile(before, 0.5), quantile(before, 1), whileHeld, run.HeldAfter)
	}
	if r.SluiceCaps != "" {
		b.WriteString(idleEstimate(r.Runs, r.Asked))
	}
	for _, run := range r.Runs {
		if len(run.FirstErrors) > 0 {
			fmt.Fprintf(&b, "\n%s: connections that failed: %s.\n", run.Name, strings.Join(run.FirstErrors, "; "))
		}
		if len(run.FirstAckErrors) > 0 {
			fmt.Fprintf(&b, "\n%s: new producers not served while the connections were held: %s.\n", run.Name, strings.Join(run.FirstAckErrors, "; "))
		}
	}
	if c.env != "" {
		b.WriteString("\n")
		for _, kv := range c.envPairs() {
			fmt.Fprintf(&b, "- %s: %s\n", kv[0], kv[1])
		}
	}
	return b.String()
}

// idleEstimate extrapolates, for runs held under lowered caps, sluice's
// RSS with asked connections held from each run's cost per connection:
// an estimate, said to be one, never a measurement.
func idleEstimate(runs []idleRun, asked int) string {
	var parts []string
	for _, run := range runs {
		if run.Held == 0 {
			continue
		}
		per := float64(run.RSSHeldKiB-run.RSSBeforeKiB) / float64(run.Held)
		est := (float64(run.RSSBeforeKiB) + per*float64(asked)) / 1024
		parts = append(parts, fmt.Sprintf("about %.0f MiB (%s)", est, run.Name))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("\n**Estimated, not measured:** at each run's cost per held connection, %d held would bring sluice's RSS to %s (its RSS before the connections plus %d times the cost per connection; the goal: under 1 GiB). What stops this host short of %d is its hard RLIMIT_NOFILE, which sluice's connection caps are fitted to, not sluice's memory.\n",
		asked, strings.Join(parts, " and "), asked, asked)
}

func sorted(v []float64) []float64 {
	out := append([]float64(nil), v...)
	sortFloats(out)
	return out
}
