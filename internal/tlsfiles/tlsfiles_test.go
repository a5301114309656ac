package tlsfiles

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// handshake proves a client trusting only ca.pem accepts the server for host.
func handshake(t *testing.T, m *Material, host string) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", m.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(m.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: host})
	if err == nil {
		c.Close()
	}
	return err
}

func TestGeneratedOnceAndTrusted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	m, err := Load(dir, "", "", "kafka.example.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.pem", "server.pem", "server-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s not created: %v", f, err)
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "kafka.example.test"} {
		if err := handshake(t, m, h); err != nil {
			t.Errorf("client for %s: %v", h, err)
		}
	}
	if handshake(t, m, "other.example.test") == nil {
		t.Error("certificate accepted for a host it was not made for")
	}

	before, _ := os.ReadFile(filepath.Join(dir, "server.pem"))
	if _, err := Load(dir, "", "", "kafka.example.test"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "server.pem"))
	if !bytes.Equal(before, after) {
		t.Error("server certificate re-created although it still fits")
	}

	caBefore, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	m2, err := Load(dir, "", "", "other.example.test")
	if err != nil {
		t.Fatal(err)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("CA changed when only the advertised host did")
	}
	if err := handshake(t, m2, "other.example.test"); err != nil {
		t.Errorf("re-issued certificate: %v", err)
	}
}

func TestOperatorCertificate(t *testing.T) {
	gen := t.TempDir()
	m, err := Load(gen, "", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	own, err := Load(filepath.Join(t.TempDir(), "unused"), m.CertFile, m.KeyFile, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if own.CAFile != "" || len(own.Config.Certificates) != 1 {
		t.Fatalf("operator material = %+v", own)
	}
	if _, err := Load(t.TempDir(), filepath.Join(gen, "missing.pem"), m.KeyFile, "localhost"); err == nil {
		t.Fatal("missing certificate accepted")
	}
}
