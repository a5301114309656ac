package embedded

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// emfileListener fails its first n Accepts the way accept(2) does when the
// process is out of file descriptors.
type emfileListener struct {
	net.Listener
	left atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.left.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptSurvivesEMFILE: a transient descriptor exhaustion must not close
// the embedded log's listener; once descriptors are free again, clients are
// served.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	var wrapped *emfileListener
	listen := func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		wrapped = &emfileListener{Listener: ln}
		wrapped.left.Store(5)
		return wrapped, nil
	}
	log, err := start(t.TempDir(), quiet(), kfake.ListenFn(listen))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(log.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("embedded log unreachable after EMFILE on accept: %v", err)
	}
	if left := wrapped.left.Load(); left >= 0 {
		t.Fatalf("only %d of 5 failing accepts happened", 5-left)
	}
}
