// Package kraw is a minimal Kafka client for tests: it sends exactly the
// request it is given (any key, any version, any bytes) over TLS with
// SASL/PLAIN and returns exactly what comes back, so tests can exercise
// refusals that well-behaved clients never trigger.
package kraw

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-io/sluice/internal/kafkaproto"
)

// Conn is one client connection.
type Conn struct {
	nc   net.Conn
	r    *bufio.Reader
	fmt  *kmsg.RequestFormatter
	corr int32
}

// TLSConfig trusts the PEM CA in caFile.
func TLSConfig(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}, nil
}

// Dial opens a TLS connection without authenticating.
func Dial(addr string, cfg *tls.Config) (*Conn, error) {
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc, r: bufio.NewReader(nc), fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("kraw"))}, nil
}

// DialAuth opens a connection and authenticates with SASL/PLAIN.
func DialAuth(addr string, cfg *tls.Config, user, pass string) (*Conn, error) {
	c, err := Dial(addr, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Authenticate(user, pass); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Authenticate runs SaslHandshake v1 and SaslAuthenticate v1 with PLAIN; a
// refusal is an *AuthError with the server's message.
func (c *Conn) Authenticate(user, pass string) error {
	return kafkaproto.ClientAuthenticate(context.Background(), c.Do, plain.Auth{User: user, Pass: pass}.AsMechanism(), "")
}

// AuthError is a refused authentication with the server's message.
type AuthError = kafkaproto.AuthError

// Do sends req at its set version and reads the response.
func (c *Conn) Do(req kmsg.Request) (kmsg.Response, error) {
	if err := c.Send(req); err != nil {
		return nil, err
	}
	return c.Receive(req)
}

// Send writes req and does not wait for an answer.
func (c *Conn) Send(req kmsg.Request) error {
	c.corr++
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(c.fmt.AppendRequest(nil, req, c.corr))
	return err
}

// SendRaw writes bytes as they are (a frame, or garbage).
func (c *Conn) SendRaw(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// Receive reads the response to the last request sent, for req's kind.
func (c *Conn) Receive(req kmsg.Request) (kmsg.Response, error) {
	body, err := c.readFrame(15 * time.Second)
	if err != nil {
		return nil, err
	}
	return kafkaproto.DecodeResponse(body, req, c.corr)
}

func (c *Conn) readFrame(d time.Duration) ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(c.r, body)
	return body, err
}

// ErrNoAnswer is returned by Quiet when something arrived.
var ErrNoAnswer = errors.New("unexpected bytes from the server")

// Closed reports whether the server closed the connection within d
// (reading nothing else first).
func (c *Conn) Closed(d time.Duration) bool {
	_, err := c.readFrame(d)
	return err != nil && !isTimeout(err)
}

// Quiet reports whether nothing arrives within d and the connection stays open.
func (c *Conn) Quiet(d time.Duration) error {
	_, err := c.readFrame(d)
	if err == nil {
		return ErrNoAnswer
	}
	if isTimeout(err) {
		return nil
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }
