package kafkaproto

// Observer receives the few events worth counting; the gateway wires it to
// Prometheus. Methods are called synchronously from connection goroutines
// and must be cheap and safe for concurrent use. Embed NopObserver to
// implement only some of them.
type Observer interface {
	ConnOpened()
	ConnClosed()
	// AuthFailed is called once per failed SASL authentication, whatever
	// the cause (bad credentials, malformed token, authzid mismatch). The
	// connection is then closed; that close is not also reported as a
	// Refusal.
	AuthFailed()
	// Refused is called when the server closes a connection because of
	// something the client did (or failed to do in time).
	Refused(reason Refusal)
	// UserRefused is called instead of Refused when an authenticated
	// user's connection is closed because of the user's own limits
	// (MaxConnsPerUser).
	UserRefused(user string, reason Refusal)
	// BytesIn and BytesOut count Kafka frames, size prefix included, not
	// TLS overhead.
	BytesIn(n int)
	BytesOut(n int)
}

// Refusal is why a connection was closed on the client's account. The set is
// small and fixed so it can be used as a metric label.
type Refusal string

const (
	RefusalTLSHandshake  Refusal = "tls_handshake"   // handshake failed, e.g. a plaintext client
	RefusalTimeout       Refusal = "timeout"         // authentication or a started frame did not complete in time
	RefusalFrameTooLarge Refusal = "frame_too_large" // size prefix above the cap (or negative)
	RefusalMalformed     Refusal = "malformed"       // header or body does not parse
	RefusalUnknownKey    Refusal = "unknown_api_key" // kmsg does not know the key
	RefusalNotAllowed    Refusal = "api_not_allowed" // key not in Config.APIs
	RefusalVersion       Refusal = "unsupported_version"
	RefusalSASLState     Refusal = "sasl_state"        // request not allowed at this point of the SASL exchange
	RefusalSASLMechanism Refusal = "sasl_mechanism"    // a mechanism other than PLAIN
	RefusalRevoked       Refusal = "principal_revoked" // Principal.Valid turned false
	// Over Config.MaxConns: closed at once, before TLS.
	RefusalConnectionLimit Refusal = "connection_limit"
	// Over Config.MaxPendingPerAddress: closed at once, before TLS.
	RefusalPendingLimit Refusal = "address_pending_limit"
	// Over Config.MaxConnsPerUser: authentication refused (UserRefused).
	RefusalUserConnectionLimit Refusal = "user_connection_limit"
)

// NopObserver ignores every event.
type NopObserver struct{}

func (NopObserver) ConnOpened()                 {}
func (NopObserver) ConnClosed()                 {}
func (NopObserver) AuthFailed()                 {}
func (NopObserver) Refused(Refusal)             {}
func (NopObserver) UserRefused(string, Refusal) {}
func (NopObserver) BytesIn(int)                 {}
func (NopObserver) BytesOut(int)                {}
