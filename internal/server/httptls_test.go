package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/limits"
	"github.com/sluice-io/sluice/internal/tlsfiles"
)

// testHTTPS serves h over TLS like Run does with --http-tls.
func testHTTPS(t *testing.T, h http.Handler, lim limits.Connections, m *tlsfiles.Material) (addr string, capped *capListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := newHTTPServer(h, lim, ln, m.Config, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	go serveHTTP(srv, capped)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), capped
}

// trusting is a TLS client configuration that trusts only caFile.
func trusting(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// With --http-tls and no certificate of its own, the HTTP API presents the
// certificate sluice's CA signed: a real client trusting ca.pem gets its
// answers over TLS (HTTP/2 included), one that trusts nothing is refused,
// and plain HTTP gets no API answer.
func TestHTTPSWithSluiceCA(t *testing.T) {
	kafka, err := tlsfiles.Load(filepath.Join(t.TempDir(), "tls"), "", "", "sluice.example")
	if err != nil {
		t.Fatal(err)
	}
	m, err := httpTLSMaterial(config.Serve{HTTPTLS: true}, kafka)
	if err != nil || m != kafka {
		t.Fatalf("material = %+v, %v; want the Kafka listeners'", m, err)
	}
	addr, _ := testHTTPS(t, okHandler, limits.DefaultConnections(), m)
	_, port, _ := net.SplitHostPort(addr)

	for _, host := range []string{"localhost", "127.0.0.1"} {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: trusting(t, kafka.CAFile), ForceAttemptHTTP2: true}}
		resp, err := client.Get("https://" + net.JoinHostPort(host, port) + "/")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" || resp.TLS == nil || resp.ProtoMajor != 2 {
			t.Fatalf("%s: %d %q tls=%v proto=%s", host, resp.StatusCode, b, resp.TLS != nil, resp.Proto)
		}
	}
	// The advertised host is in the certificate too.
	c, err := tls.Dial("tcp", addr, func() *tls.Config { c := trusting(t, kafka.CAFile); c.ServerName = "sluice.example"; return c }())
	if err != nil {
		t.Fatalf("advertised host: %v", err)
	}
	c.Close()

	untrusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if resp, err := untrusting.Get("https://" + addr + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("a client that does not trust sluice's CA got an answer")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) == "ok" {
			t.Fatal("plain HTTP served by the HTTPS listener")
		}
	}
}

// --http-tls-cert serves the operator's certificate, not the Kafka
// listeners'.
func TestHTTPSOperatorCertificate(t *testing.T) {
	dir := t.TempDir()
	kafka, err := tlsfiles.Load(filepath.Join(dir, "kafka"), "", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	// The operator's certificate: another CA's, made the same way.
	own, err := tlsfiles.Load(filepath.Join(dir, "own"), "", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Serve{HTTPTLS: true, HTTPTLSCert: own.CertFile, HTTPTLSKey: own.KeyFile}
	m, err := httpTLSMaterial(cfg, kafka)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := testHTTPS(t, okHandler, limits.DefaultConnections(), m)
	if c, err := tls.Dial("tcp", addr, trusting(t, kafka.CAFile)); err == nil {
		c.Close()
		t.Fatal("the HTTP API presented the Kafka listeners' certificate")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: trusting(t, own.CAFile)}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	if _, err := httpTLSMaterial(config.Serve{HTTPTLS: true, HTTPTLSCert: filepath.Join(dir, "missing.pem"), HTTPTLSKey: own.KeyFile}, kafka); err == nil ||
		!strings.Contains(err.Error(), "--http-tls-cert") {
		t.Fatalf("missing certificate: %v", err)
	}
	if m, err := httpTLSMaterial(config.Serve{}, kafka); m != nil || err != nil {
		t.Fatalf("without --http-tls: %+v %v", m, err)
	}
}

// Over TLS the connection cap still knows idle connections (the server
// reports TLS connections to ConnState): a new connection takes an idle
// one's place; with none idle, it is closed without a plain-text answer a
// TLS client could not read.
func TestHTTPSConnectionCap(t *testing.T) {
	kafka, err := tlsfiles.Load(filepath.Join(t.TempDir(), "tls"), "", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	lim := limits.DefaultConnections()
	lim.MaxHTTPConnections = 1
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-release
		}
		fmt.Fprint(w, "ok")
	})
	addr, capped := testHTTPS(t, h, lim, kafka)
	clientCfg := trusting(t, kafka.CAFile)
	clientCfg.ServerName = "localhost"
	dial := func() (*tls.Conn, *bufio.Reader, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientCfg)
		if err != nil {
			return nil, nil, err
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c), nil
	}
	get := func(c *tls.Conn, br *bufio.Reader, path string) (int, error) {
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	first, firstBR, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := get(first, firstBR, "/"); err != nil || st != 200 {
		t.Fatalf("first: %d %v", st, err)
	}
	waitUntil(t, "first idle", func() bool {
		capped.mu.Lock()
		defer capped.mu.Unlock()
		return capped.idle.Len() == 1
	})
	second, secondBR, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprint(second, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := firstBR.ReadByte(); err == nil {
		t.Fatal("the idle TLS connection was not closed for the new one")
	}
	if n := counter(t, capped.evicted); n != 1 {
		t.Fatalf("evicted %v, want 1", n)
	}

	// second is busy: a third connection is closed, not answered in plain text.
	if third, thirdBR, err := dial(); err == nil {
		if st, err := get(third, thirdBR, "/"); err == nil {
			t.Fatalf("a connection over the cap was answered %d", st)
		}
	}
	if n := counter(t, capped.refused); n != 1 {
		t.Fatalf("refused %v, want 1", n)
	}
	close(release)
	resp, err := http.ReadResponse(secondBR, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("busy connection not served: %v %v", resp, err)
	}
	resp.Body.Close()
}
