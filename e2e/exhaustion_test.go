package e2e

// Connection exhaustion on the embedded default: the sluice binary runs with
// a hard RLIMIT_NOFILE of 2,600 (soft 1,024, which sluice raises), so its
// connection caps are fitted small (138 HTTP, 69 per Kafka role, 8 per
// project and role, 4 unauthenticated per address and role) and reachable; floods of more connections than the
// process has descriptors are absorbed (idle HTTP connections make room for
// new ones) or refused cleanly (busy HTTP connections, Kafka), and everyone
// else is served.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kraw"
)

const (
	exhaustNoFile = 2600 // hard limit given to sluice
	exhaustFlood  = 3000 // connections per flood: more than sluice has descriptors
)

func TestConnectionExhaustion(t *testing.T) {
	dir := t.TempDir()
	const orgID, orgKey = "0123456789abcdef01234567", "exhaustion-org-key-0123456789"
	debugAddr := freeAddr(t)
	// The HTTP floods come from one address and test the total cap:
	// no cap per address (TestHTTPConnectionsPerAddress tests that one).
	args := append([]string{"serve", "--org-id", orgID, "--org-key", orgKey, "--debug-addr", debugAddr,
		"--max-http-connections-per-address", "0"}, localArgs(t)...)
	p := startLimited(t, dir, exhaustNoFile, args...)
	pid := p.cmd.Process.Pid

	// The limit was raised and the caps fitted under it.
	line, ok := p.stderr.wait("file descriptor limit", time.Second)
	if !ok {
		t.Fatalf("no file descriptor line in the log:\n%s", p.stderr)
	}
	caps := map[string]int{}
	for _, k := range []string{"soft_before", "limit", "max_http_connections", "max_kafka_connections", "max_kafka_connections_per_project", "max_kafka_pending_per_address"} {
		m := regexp.MustCompile(`\b` + k + `=(\d+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s missing from %q", k, line)
		}
		caps[k], _ = strconv.Atoi(m[1])
	}
	// Go's runtime raises the soft limit before sluice looks (soft_before).
	if caps["limit"] != exhaustNoFile {
		t.Fatalf("descriptor limit not raised from 1024 to %d: %q", exhaustNoFile, line)
	}
	httpCap, kafkaCap, projectCap := caps["max_http_connections"], caps["max_kafka_connections"], caps["max_kafka_connections_per_project"]
	pendingCap := caps["max_kafka_pending_per_address"]
	t.Logf("RLIMIT_NOFILE %d: caps HTTP %d, Kafka %d per role, %d per project and role, %d unauthenticated per address and role",
		exhaustNoFile, httpCap, kafkaCap, projectCap, pendingCap)
	if httpCap >= exhaustFlood || kafkaCap >= exhaustFlood || projectCap >= kafkaCap || projectCap < 4 || pendingCap >= kafkaCap/2 {
		t.Fatalf("caps unsuited to the test: %v", caps)
	}

	inbound := addrAfter(t, p, "Kafka Inbound:")
	httpHost := strings.TrimPrefix(p.HTTP, "http://")
	tlsCfg, err := kraw.TLSConfig(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	projP := createProject(t, p.HTTP, orgID, orgKey, "P")
	projQ := createProject(t, p.HTTP, orgID, orgKey, "Q")

	// Q: a producer and an HTTP keep-alive connection, both opened
	// before any flood.
	q, err := kgo.NewClient(kgo.SeedBrokers(inbound), kgo.DialTLSConfig(tlsCfg),
		kgo.SASL(plain.Auth{User: projQ.ID, Pass: projQ.APIKeys["write"]}.AsMechanism()), kgo.RecordDeliveryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	produced := 0
	produceQ := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		produced++
		rec := &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, `{"n":%d}`, produced)}
		if err := q.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("Q's producer %s: %v", what, err)
		}
	}
	produceQ("before the floods")

	t.Run("HTTP idle keep-alive flood", func(t *testing.T) {
		// Each new connection takes the place of the longest-idle one:
		// everybody is served and sluice's descriptors stay bounded.
		fdsBefore, rssBefore := procFDs(t, pid), procRSS(t, pid)
		var conns []*keepAlive
		for i := range exhaustFlood {
			c, err := tryKeepAlive(httpHost)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			conns = append(conns, c)
			defer c.nc.Close()
			if st, body, err := c.try("GET", "/healthz", "", ""); err != nil || st != 200 {
				t.Fatalf("idle flood connection %d: %d %q %v", i, st, body, err)
			}
			if i == httpCap-10 {
				fds, rss := procFDs(t, pid), procRSS(t, pid)
				t.Logf("%d idle HTTP keep-alive connections: sluice's descriptors %d → %d (%.2f per connection), RSS %d → %d KiB (%.1f KiB per connection)",
					i+1, fdsBefore, fds, float64(fds-fdsBefore)/float64(i+1), rssBefore, rss, float64(rss-rssBefore)/float64(i+1))
			}
		}
		open := 0
		for _, c := range conns {
			_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
			if _, err := c.br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
				open++
			}
		}
		fds := procFDs(t, pid)
		t.Logf("%d keep-alive connections served: %d still open, the others closed to make room; sluice holds %d descriptors", exhaustFlood, open, fds)
		if open > httpCap || open < httpCap/2 || fds >= exhaustNoFile-100 {
			t.Fatalf("%d of the flood's connections open (cap %d), %d descriptors held", open, httpCap, fds)
		}
		if st, body, err := httpDoKey("POST", p.HTTP+"/3.0/projects/"+projQ.ID+"/queries/count", projQ.APIKeys["read"], `{"event_collection":"orders"}`); err != nil || st != 200 {
			t.Fatalf("count during the flood: %d %s %v", st, body, err)
		}
		produceQ("during the idle HTTP flood")
		if st, body, err := httpDoKey("GET", p.HTTP+"/metrics", "", ""); err != nil || st != 200 ||
			!metricAtLeast(body, "sluice_http_connections_evicted_total", float64(exhaustFlood-httpCap)) {
			t.Fatalf("evictions not counted: %d %v", st, err)
		}
	})

	t.Run("HTTP busy connection flood", func(t *testing.T) {
		// Requests whose body never comes hold their connection (up to
		// the read timeout): past the cap, new connections are refused,
		// each answered 503 while the client reads the answer.
		type outcome struct {
			nc      net.Conn
			refused bool // a 503 TooManyConnectionsError
			closed  bool // closed without an answer (more refusals at once than sluice answers)
			err     error
		}
		results := make(chan outcome, exhaustFlood)
		for i := range exhaustFlood {
			c, err := tryKeepAlive(httpHost)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			defer c.nc.Close()
			fmt.Fprintf(c.nc, "POST /3.0/projects/%s/events/orders HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", projQ.ID, httpHost)
			go func() {
				_ = c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
				resp, err := http.ReadResponse(c.br, nil)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					results <- outcome{nc: c.nc}
					return
				}
				if err != nil {
					c.nc.Close()
					results <- outcome{closed: true}
					return
				}
				body, _ := io.ReadAll(resp.Body)
				c.nc.Close()
				if resp.StatusCode != 503 || !strings.Contains(string(body), `"error_code":"TooManyConnectionsError"`) {
					err = fmt.Errorf("answered %d %q", resp.StatusCode, body)
				}
				results <- outcome{refused: true, err: err}
			}()
		}
		var held []net.Conn
		refused, closed := 0, 0
		for range exhaustFlood {
			o := <-results
			switch {
			case o.err != nil:
				t.Fatalf("busy flood connection: %v", o.err)
			case o.refused:
				refused++
			case o.closed:
				closed++
			default:
				held = append(held, o.nc)
			}
		}
		fds := procFDs(t, pid)
		t.Logf("%d connections with a body that never comes: %d held, %d refused with 503, %d closed without an answer; sluice holds %d descriptors",
			exhaustFlood, len(held), refused, closed, fds)
		if len(held) > httpCap || len(held) < httpCap/2 || refused < exhaustFlood/2 || fds >= exhaustNoFile-100 {
			t.Fatalf("%d held, %d refused, %d closed (cap %d), %d descriptors", len(held), refused, closed, httpCap, fds)
		}
		produceQ("during the busy HTTP flood")
		for _, nc := range held {
			nc.Close()
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, body, err := httpDoKey("GET", p.HTTP+"/metrics", "", "")
			if err == nil && st == 200 {
				if !metricAtLeast(body, "sluice_http_connections_refused_total", float64(refused+closed)) {
					t.Fatalf("refusals not counted")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a new HTTP client still refused after the flood closed: %d %v", st, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("Kafka connection flood", func(t *testing.T) {
		// From another address, connections that never authenticate:
		// a few are held (until the 10 s authentication timeout), the
		// rest closed at once, and producers elsewhere connect anew.
		flooder := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		var conns []net.Conn
		defer func() {
			for _, nc := range conns {
				nc.Close()
			}
		}()
		for range exhaustFlood {
			nc, err := flooder.Dial("tcp", inbound)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			conns = append(conns, nc)
		}
		closedAtOnce := 0
		for _, nc := range conns {
			_ = nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := nc.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				closedAtOnce++
			}
		}
		fds := procFDs(t, pid)
		t.Logf("%d unauthenticated connections to Kafka Inbound from one address: %d closed at once, sluice holds %d descriptors", exhaustFlood, closedAtOnce, fds)
		if closedAtOnce < exhaustFlood-pendingCap || fds >= exhaustNoFile-100 {
			t.Fatalf("%d of %d closed at once (%d unauthenticated allowed per address), %d descriptors held", closedAtOnce, exhaustFlood, pendingCap, fds)
		}
		// Q's producer keeps its connections, and a new one connects.
		produceQ("during the Kafka flood")
		q3, err := kgo.NewClient(kgo.SeedBrokers(inbound), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(plain.Auth{User: projQ.ID, Pass: projQ.APIKeys["write"]}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer q3.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		if err := q3.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(`{"n":-1}`)}).FirstErr(); err != nil {
			t.Fatalf("a new producer of Q during the flood: %v", err)
		}
		produced++
		if st, body, err := httpDoKey("GET", p.HTTP+"/metrics", "", ""); err != nil || st != 200 ||
			!metricAtLeast(body, `sluice_kafka_refusals_total{listener="inbound",project="",reason="address_pending_limit"}`, float64(exhaustFlood-pendingCap)) {
			t.Fatalf("refusals not counted: %d %v", st, err)
		}
	})

	t.Run("one project over its Kafka cap", func(t *testing.T) {
		fdsBefore, rssBefore, gBefore := procFDs(t, pid), procRSS(t, pid), goroutines(t, debugAddr)
		var held []*kraw.Conn
		for i := range projectCap {
			c, err := kraw.DialAuth(inbound, tlsCfg, projP.ID, projP.APIKeys["write"])
			if err != nil {
				t.Fatalf("P's connection %d of %d refused: %v", i+1, projectCap, err)
			}
			defer c.Close()
			// A request makes the gateway open the connection's upstream.
			meta := kmsg.NewPtrMetadataRequest()
			meta.Version = 9
			meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("orders")}}
			if _, err := c.Do(meta); err != nil {
				t.Fatalf("metadata on P's connection %d: %v", i+1, err)
			}
			held = append(held, c)
		}
		fds, rss, g := procFDs(t, pid), procRSS(t, pid), goroutines(t, debugAddr)
		t.Logf("%d authenticated Kafka connections that sent a request: descriptors %d → %d (%.2f each), goroutines %d → %d (%.2f each), RSS %d → %d KiB",
			len(held), fdsBefore, fds, float64(fds-fdsBefore)/float64(len(held)), gBefore, g, float64(g-gBefore)/float64(len(held)), rssBefore, rss)

		_, err := kraw.DialAuth(inbound, tlsCfg, projP.ID, projP.APIKeys["write"])
		var ae *kraw.AuthError
		if !errors.As(err, &ae) || !strings.Contains(ae.Message, "Too many connections: project "+projP.ID) {
			t.Fatalf("P's connection over its cap: %v, want a refusal naming too many connections", err)
		}
		// Another project connects anew and produces; P's open
		// connections still work.
		q2, err := kgo.NewClient(kgo.SeedBrokers(inbound), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(plain.Auth{User: projQ.ID, Pass: projQ.APIKeys["write"]}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer q2.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		if err := q2.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(`{"n":0}`)}).FirstErr(); err != nil {
			t.Fatalf("a new producer of Q while P is at its cap: %v", err)
		}
		produced++
		meta := kmsg.NewPtrMetadataRequest()
		meta.Version = 9
		if _, err := held[0].Do(meta); err != nil {
			t.Fatalf("P's open connection: %v", err)
		}
		if st, body, err := httpDoKey("GET", p.HTTP+"/metrics", "", ""); err != nil || st != 200 ||
			!metricAtLeast(body, `sluice_kafka_refusals_total{listener="inbound",project="`+projP.ID+`",reason="user_connection_limit"}`, 1) {
			t.Fatalf("P's refusal not counted: %d %v", st, err)
		}
	})

	// Every event Q produced is stored.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, body, _ := httpDoKey("POST", p.HTTP+"/3.0/projects/"+projQ.ID+"/queries/count", projQ.APIKeys["read"], `{"event_collection":"orders"}`)
		var r struct{ Result int }
		_ = json.Unmarshal([]byte(body), &r)
		if st == 200 && r.Result == produced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Q's count %d %s, want %d", st, body, produced)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := p.stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// startLimited runs sluice with a hard RLIMIT_NOFILE of nofile and a soft one
// of 1,024, and waits for "ready".
func startLimited(t *testing.T, dir string, nofile int, args ...string) *proc {
	t.Helper()
	script := fmt.Sprintf(`ulimit -S -n 1024 && ulimit -H -n %d && exec "$0" "$@"`, nofile)
	cmd := exec.Command("sh", append([]string{"-c", script, sluiceBin}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	out, _ := cmd.StdoutPipe()
	errp, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, dir: dir, stdout: newLineLog(out), stderr: newLineLog(errp), exited: make(chan struct{})}
	go func() {
		<-p.stdout.eof
		<-p.stderr.eof
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	if _, ok := p.stdout.wait("ready", 90*time.Second); !ok {
		p.kill()
		t.Fatalf("sluice did not print ready.\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
	line, _ := p.stdout.wait("HTTP API:", time.Second)
	p.HTTP = strings.TrimSpace(strings.TrimPrefix(line, "HTTP API:"))
	return p
}

// keepAlive is one HTTP/1.1 connection used for several requests.
type keepAlive struct {
	nc   net.Conn
	br   *bufio.Reader
	host string
}

func tryKeepAlive(host string) (*keepAlive, error) {
	nc, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &keepAlive{nc: nc, br: bufio.NewReader(nc), host: host}, nil
}

func (c *keepAlive) try(method, path, key, body string) (int, string, error) {
	_ = c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, c.host, len(body))
	if key != "" {
		req += "Authorization: " + key + "\r\n"
	}
	if _, err := io.WriteString(c.nc, req+"\r\n"+body); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// httpDoKey is one request on a new connection; errors are returned.
func httpDoKey(method, url, key, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func metricAtLeast(exposition, series string, want float64) bool {
	for _, line := range strings.Split(exposition, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return err == nil && v >= want
		}
	}
	return false
}

func procFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// procRSS is the resident set in KiB.
func procRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func goroutines(t *testing.T, debugAddr string) int {
	t.Helper()
	st, body, err := httpDoKey("GET", "http://"+debugAddr+"/debug/pprof/goroutine?debug=1", "", "")
	if err != nil || st != 200 {
		t.Fatalf("goroutine profile: %d %v", st, err)
	}
	first, _, _ := strings.Cut(body, "\n")
	n, err := strconv.Atoi(strings.TrimPrefix(first, "goroutine profile: total "))
	if err != nil {
		t.Fatalf("goroutine profile starts %q", first)
	}
	return n
}

// TestHTTPConnectionsPerAddress: one address holding its cap of busy HTTP
// connections (requests whose body never comes) has its next one answered
// 429 TooManyConnectionsError; another address is served meanwhile, and the
// first again once its connections end.
func TestHTTPConnectionsPerAddress(t *testing.T) {
	const orgID, orgKey = "0123456789abcdef01234567", "per-address-org-key-0123456789"
	p := startSluice(t, t.TempDir(), append([]string{"serve", "--org-id", orgID, "--org-key", orgKey,
		"--max-http-connections-per-address", "3"}, localArgs(t)...)...)
	proj := createProject(t, p.HTTP, orgID, orgKey, "P")
	httpHost := strings.TrimPrefix(p.HTTP, "http://")
	from := func(ip string) net.Conn {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		nc, err := d.Dial("tcp", httpHost)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	var busy []net.Conn
	for range 3 {
		nc := from("127.0.0.2")
		fmt.Fprintf(nc, "POST /3.0/projects/%s/events/orders HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", proj.ID, httpHost)
		busy = append(busy, nc)
	}
	time.Sleep(200 * time.Millisecond) // accepted, their requests begun
	over := from("127.0.0.2")
	_ = over.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(over, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", httpHost)
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil {
		t.Fatalf("a fourth connection of one address: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"error_code":"TooManyConnectionsError"`) {
		t.Fatalf("a fourth connection of one address: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if st, body := httpDo(t, "POST", p.HTTP+"/3.0/projects/"+proj.ID+"/queries/count", proj.APIKeys["read"], `{"event_collection":"orders"}`); st != 200 {
		t.Fatalf("another address meanwhile: %d %s", st, body)
	}
	for _, nc := range busy {
		nc.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc := from("127.0.0.2")
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(nc, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", httpHost)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err == nil && resp.StatusCode != 429 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the address still refused after its connections closed: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, body := httpDo(t, "GET", p.HTTP+"/metrics", "", ""); st != 200 || !metricAtLeast(body, "sluice_http_connections_refused_per_address_total", 1) {
		t.Fatalf("the refusal not counted: %d", st)
	}
}
