package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestAddressFree(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 9092}, Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", dial), "connection refused"},
		{fmt.Errorf("request to 10.1.2.3:9092: %w", context.DeadlineExceeded), "context deadline exceeded"},
		{fmt.Errorf("broker 10.1.2.3:9092: %w", kerr.SaslAuthenticationFailed), kerr.SaslAuthenticationFailed.Error()},
		{errors.New("unable to dial 10.1.2.3:9092"), "unreachable"},
	} {
		got := addressFree(tc.err).Error()
		if got != tc.want || strings.Contains(got, "10.1.2.3") {
			t.Errorf("addressFree(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
