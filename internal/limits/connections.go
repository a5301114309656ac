package limits

import "time"

// Connections bounds what clients may hold open: every connection costs file
// descriptors, and a process out of descriptors fails for everyone (its
// backend connections and store files included). The caps are per listener
// and are lowered at start by FitDescriptors so that sluice refuses new
// connections cleanly before RLIMIT_NOFILE is reached.
type Connections struct {
	// MaxHTTPConnections caps open connections of the HTTP API. A
	// connection over it is answered 503 (error_code
	// TooManyConnectionsError, Retry-After) and closed; open connections
	// keep being served.
	MaxHTTPConnections int
	// MaxHTTPConnectionsPerAddress caps the open HTTP connections from one
	// remote address (0: none), so that one source cannot take all of
	// MaxHTTPConnections with requests it keeps busy. At it, a new
	// connection from that address takes the place of its own
	// longest-idle one; if none is idle it is answered 429 (error_code
	// TooManyConnectionsError, Retry-After) and closed. Behind a reverse
	// proxy every client shares the proxy's address: raise it to
	// MaxHTTPConnections, or set 0.
	MaxHTTPConnectionsPerAddress int
	// HTTPReadTimeout bounds reading a whole request, headers and body: a
	// 10 MB batch needs at least ~170 KB/s.
	HTTPReadTimeout time.Duration
	// HTTPWriteTimeout bounds a request from the end of its headers to the
	// last byte of the answer. net/http counts the handler's work in it,
	// so it must exceed the longest query: Keen's query timeout (300 s)
	// plus 30 s to send the answer.
	HTTPWriteTimeout time.Duration
	// HTTPIdleTimeout closes a keep-alive connection that sends no new
	// request for this long.
	HTTPIdleTimeout time.Duration

	// MaxKafkaConnections caps the open connections of one Kafka listener
	// role (Inbound or Outbound: its bootstrap and node listeners
	// together), authenticated or not. A connection over it is closed at
	// once, before TLS.
	MaxKafkaConnections int
	// MaxKafkaConnectionsPerProject caps one project's authenticated
	// connections to one listener role. Authentication over it fails
	// (SASL_AUTHENTICATION_FAILED, saying the project has too many
	// connections); the project's other connections and every other
	// project are unaffected.
	MaxKafkaConnectionsPerProject int
	// MaxKafkaPendingPerAddress caps the connections from one remote
	// address to one listener role that have not authenticated yet. A
	// connection over it is closed at once, before TLS: without it one
	// source could hold all of MaxKafkaConnections with connections that
	// never authenticate.
	MaxKafkaPendingPerAddress int
	// KafkaAuthTimeout bounds the TLS handshake and SASL exchange of a new
	// Kafka connection: an unauthenticated connection holds a slot of
	// MaxKafkaConnections for at most this long.
	KafkaAuthTimeout time.Duration
	// KafkaAuthFailureMaxDelay caps the delay before a failed Kafka
	// authentication is answered. The delay starts at 100 ms (Kafka's
	// connection.failed.authentication.delay.ms) and doubles with each
	// recent failure from the same source address, so a password guesser
	// is slowed and other addresses are not.
	KafkaAuthFailureMaxDelay time.Duration
}

// DefaultConnections sizes the caps for a process allowed 65,536 descriptors
// or more (FitDescriptors lowers them under a smaller limit):
//
//   - 8,192 HTTP connections: 1 descriptor each;
//   - 512 HTTP connections per address: far more than a browser (6 per
//     host) or a client library's pool uses, while one address holds at
//     most a sixteenth of the server;
//   - 4,096 connections per Kafka listener role: up to 3 descriptors each
//     (the client's, its upstream connection to the backend broker and, on
//     the embedded log, the log's end of it), 24,576 for both roles;
//   - 512 per project and role: a fleet of 128 producers, each connected
//     to the bootstrap and three brokers, while eight such projects fill a
//     role;
//   - 256 unauthenticated per address and role: a handshake takes
//     milliseconds, so even a large fleet behind one NAT address that
//     restarts at once rarely has that many under way, and one address
//     holds at most a sixteenth of a role.
func DefaultConnections() Connections {
	return Connections{
		MaxHTTPConnections:            8192,
		MaxHTTPConnectionsPerAddress:  512,
		HTTPReadTimeout:               60 * time.Second,
		HTTPWriteTimeout:              330 * time.Second,
		HTTPIdleTimeout:               60 * time.Second,
		MaxKafkaConnections:           4096,
		MaxKafkaConnectionsPerProject: 512,
		MaxKafkaPendingPerAddress:     256,
		KafkaAuthTimeout:              10 * time.Second,
		KafkaAuthFailureMaxDelay:      2 * time.Second,
	}
}

// Descriptor costs and reserve used by FitDescriptors.
const (
	// FDsPerHTTPConnection: the client's socket.
	FDsPerHTTPConnection = 1
	// FDsPerKafkaConnection: the client's socket and one upstream socket
	// to the backend broker the listener stands for, plus the embedded
	// log's end of that upstream connection when the log runs in-process.
	FDsPerKafkaConnection         = 2
	FDsPerKafkaConnectionEmbedded = 3
	// ReservedFDs are kept for everything that is not a client connection:
	// the store's files (a few per collection), the embedded log's
	// segments, sluice's own backend clients, the listeners, the runtime.
	// At least this many, or a fifth of the limit if that is more.
	ReservedFDs = 2048
)

// FitDescriptors lowers the connection caps so that, all of them full,
// sluice still has the reserve left under nofile descriptors. The caps are
// scaled down by one factor, so HTTP, Kafka and a project's and an
// address's shares of Kafka keep their proportions;
// caps that fit are returned unchanged. lowered reports whether any cap
// changed. Pure, so that start-up can log what it decided.
func (c Connections) FitDescriptors(nofile uint64, embedded bool) (fitted Connections, lowered bool) {
	perKafka := uint64(FDsPerKafkaConnection)
	if embedded {
		perKafka = FDsPerKafkaConnectionEmbedded
	}
	reserve := max(uint64(ReservedFDs), nofile/5)
	var budget uint64
	if nofile > reserve {
		budget = nofile - reserve
	}
	need := uint64(c.MaxHTTPConnections)*FDsPerHTTPConnection + 2*uint64(c.MaxKafkaConnections)*perKafka
	if need <= budget {
		return c, false
	}
	scale := func(n int) int {
		// At least one of each, so that a tiny limit still serves
		// something rather than nothing.
		return max(1, int(uint64(n)*budget/need))
	}
	c.MaxHTTPConnections = scale(c.MaxHTTPConnections)
	c.MaxKafkaConnections = scale(c.MaxKafkaConnections)
	// A project keeps its share of a role, so a smaller role still needs
	// several projects to fill it.
	c.MaxKafkaConnectionsPerProject = min(scale(c.MaxKafkaConnectionsPerProject), c.MaxKafkaConnections)
	c.MaxKafkaPendingPerAddress = min(scale(c.MaxKafkaPendingPerAddress), c.MaxKafkaConnections)
	if c.MaxHTTPConnectionsPerAddress > 0 {
		c.MaxHTTPConnectionsPerAddress = min(scale(c.MaxHTTPConnectionsPerAddress), c.MaxHTTPConnections)
	}
	return c, true
}
