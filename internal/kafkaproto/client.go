package kafkaproto

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// AuthError is a SASL authentication a server refused, with the message it
// gave (SaslAuthenticate's ErrorMessage).
type AuthError struct {
	Err     error
	Message string
}

func (e *AuthError) Error() string { return e.Err.Error() + ": " + e.Message }

func (e *AuthError) Unwrap() error { return e.Err }

// ClientAuthenticate runs the client's side of SASL over do, which sends a
// request and reads its answer on one connection: SaslHandshake v1 for
// mech, then SaslAuthenticate v1 rounds until mech is done (host is the
// server's name, for mechanisms that use it). A refused SaslAuthenticate is
// an *AuthError. It is the one copy of this exchange for whatever talks to a
// broker: the gateway's upstream connections and kraw.
func ClientAuthenticate(ctx context.Context, do func(kmsg.Request) (kmsg.Response, error), mech sasl.Mechanism, host string) error {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = mech.Name()
	resp, err := do(hs)
	if err != nil {
		return fmt.Errorf("SASL handshake: %w", err)
	}
	if err := kerr.ErrorForCode(resp.(*kmsg.SASLHandshakeResponse).ErrorCode); err != nil {
		return fmt.Errorf("SASL handshake: %w", err)
	}
	sess, out, err := mech.Authenticate(ctx, host)
	if err != nil {
		return fmt.Errorf("starting SASL %s: %w", mech.Name(), err)
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = out
		r, err := do(req)
		if err != nil {
			return fmt.Errorf("SASL authenticate: %w", err)
		}
		ar := r.(*kmsg.SASLAuthenticateResponse)
		if err := kerr.ErrorForCode(ar.ErrorCode); err != nil {
			msg := ""
			if ar.ErrorMessage != nil {
				msg = *ar.ErrorMessage
			}
			return &AuthError{Err: err, Message: msg}
		}
		done, next, err := sess.Challenge(ar.SASLAuthBytes)
		if err != nil {
			return fmt.Errorf("SASL %s: %w", mech.Name(), err)
		}
		if done {
			return nil
		}
		out = next
	}
}
