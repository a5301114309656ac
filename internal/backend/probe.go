package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Probe checks that every broker sluice knows of answers a request and
// accepts a new connection. Both matter: a frozen broker keeps its port
// open (the kernel completes the handshake), and a broker whose listener
// died (file descriptors exhausted, say) goes on serving the connections it
// already has. The list of brokers comes from metadata, which the client
// may answer from its cache; the requests to each broker it cannot.
//
// The error names brokers by node id only: /healthz shows it to anyone,
// and clients are never told a backend address.
func (b *Backend) Probe(ctx context.Context) error {
	meta, err := b.admin.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("asking the backend for its brokers: %w", addressFree(err))
	}
	if len(meta.Brokers) == 0 {
		return fmt.Errorf("the backend's metadata lists no brokers")
	}
	var d net.Dialer
	for _, br := range meta.Brokers {
		addr := net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port)))
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-health", "1"
		resp, err := b.client.Broker(int(br.NodeID)).Request(ctx, req)
		if err == nil {
			err = kerr.ErrorForCode(resp.(*kmsg.ApiVersionsResponse).ErrorCode)
		}
		if err != nil {
			return fmt.Errorf("backend broker %d does not answer: %w", br.NodeID, addressFree(err))
		}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("backend broker %d accepts no new connection: %w", br.NodeID, addressFree(err))
		}
		conn.Close()
	}
	return nil
}

// addressFree keeps what an error says about the failure and drops what
// may name a backend address (dial errors do).
func addressFree(err error) error {
	var op *net.OpError
	var ke *kerr.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.As(err, &ke):
		return ke
	case errors.As(err, &op):
		return op.Err
	default:
		return errors.New("unreachable")
	}
}
