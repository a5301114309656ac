package kafkaproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type saslStage uint8

const (
	stageBegin         saslStage = iota // ApiVersions, SaslHandshake
	stageHandshaken                     // after SaslHandshake v1: ApiVersions, SaslAuthenticate
	stageRawToken                       // after SaslHandshake v0: the next frame is an unframed PLAIN token
	stageAuthenticated                  // the API table
)

func (s saslStage) String() string {
	switch s {
	case stageBegin:
		return "begin"
	case stageHandshaken:
		return "handshaken"
	case stageRawToken:
		return "raw_token"
	case stageAuthenticated:
		return "authenticated"
	}
	return "unknown"
}

const mechanismPlain = "PLAIN"

var (
	errInvalidPlain = errors.New("invalid PLAIN token")
	errAuthzid      = errors.New("authorization id must be empty or equal to the username")
	errNoPrincipal  = errors.New("authentication failed")
)

func (c *Conn) handleHandshake(h header, req *kmsg.SASLHandshakeRequest) bool {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = []string{mechanismPlain}
	if req.Mechanism != mechanismPlain {
		// As Kafka: answer with the enabled mechanisms, then close.
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.write(h.corr, resp)
		c.refuse(RefusalSASLMechanism, "unsupported SASL mechanism", "mechanism", clip(req.Mechanism))
		return false
	}
	if req.Version == 0 {
		c.stage = stageRawToken
	} else {
		c.stage = stageHandshaken
	}
	return c.write(h.corr, resp)
}

// handleAuthenticate answers SaslAuthenticate. Success leaves
// SessionLifetimeMillis at 0: no re-authentication is asked for (KIP-368),
// revocation is enforced by closing connections instead.
func (c *Conn) handleAuthenticate(h header, req *kmsg.SASLAuthenticateRequest) bool {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if err := c.authenticate(req.SASLAuthBytes); err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := err.Error()
		resp.ErrorMessage = &msg
		c.write(h.corr, resp)
		return false // closed once the answer has been written
	}
	return c.write(h.corr, resp)
}

// handleRawToken serves the legacy flow after SaslHandshake v0 (kafka-python
// 2.0.x): the frame is a bare PLAIN token; success is answered with an empty
// frame, failure by closing the connection, which is all such clients read.
func (c *Conn) handleRawToken(token []byte) bool {
	if err := c.authenticate(token); err != nil {
		return false
	}
	return c.writeRaw([]byte{0, 0, 0, 0})
}

// authenticate checks a PLAIN token and, on success, moves the connection to
// the authenticated stage. Every failure takes at least AuthFailureDelay from
// the moment the token arrived, more after recent failures from the same
// address (failureDelay).
func (c *Conn) authenticate(token []byte) error {
	start := time.Now()
	user, p, err := c.checkPlain(token)
	if err != nil {
		c.srv.obs.AuthFailed()
		recent := c.srv.failures.add(c.RemoteAddr(), start)
		c.srv.authLog.Log("remote", c.RemoteAddr().String(), "user", clip(user), "err", err, "recent_failures_from_address", recent)
		c.waitUntil(start.Add(failureDelay(c.srv.cfg.AuthFailureDelay, c.srv.cfg.AuthFailureMaxDelay, recent)))
		return err
	}
	if err := c.srv.countUser(c, p.User()); err != nil {
		c.srv.obs.UserRefused(p.User(), RefusalUserConnectionLimit)
		c.srv.userLimitLog.Log("remote", c.RemoteAddr().String(), "user", clip(p.User()), "limit", c.srv.cfg.MaxConnsPerUser)
		// Not a wrong key: the base delay only keeps a reconnecting
		// client from spinning.
		c.waitUntil(start.Add(c.srv.cfg.AuthFailureDelay))
		return err
	}
	c.setPrincipal(p)
	c.stage = stageAuthenticated
	c.logger().Debug("kafkaproto: authenticated")
	return nil
}

// countUser counts c as one of user's connections, or refuses it when the
// user already holds MaxConnsPerUser.
// An admitted connection no longer counts as unauthenticated.
func (s *Server) countUser(c *Conn, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.MaxConnsPerUser == 0 {
		s.releasePendingLocked(c)
		return nil
	}
	if n := s.users[user]; n >= s.cfg.MaxConnsPerUser {
		return fmt.Errorf("Too many connections: project %s already has %d connections to this listener, the most allowed; close some or retry later", clip(user), n)
	}
	s.users[user]++
	c.countedUser = user
	s.releasePendingLocked(c)
	return nil
}

func (c *Conn) checkPlain(token []byte) (string, Principal, error) {
	authzid, user, pass, err := parsePlain(token)
	if err != nil {
		return "", nil, err
	}
	// Any other authzid would let one project act as another.
	if authzid != "" && authzid != user {
		return user, nil, errAuthzid
	}
	ctx, cancel := context.WithDeadline(c.ctx, c.authDeadline)
	defer cancel()
	p, err := c.srv.cfg.Auth.Authenticate(ctx, user, pass)
	if err == nil && p == nil {
		err = errNoPrincipal
	}
	return user, p, err
}

// parsePlain splits an RFC 4616 message: [authzid] NUL authcid NUL passwd,
// none of which may contain NUL; authcid and passwd are not empty.
func parsePlain(token []byte) (authzid, user, pass string, err error) {
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", errInvalidPlain
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// waitUntil waits, but not past the authentication deadline, after which
// the answer could no longer be written.
func (c *Conn) waitUntil(t time.Time) {
	if limit := c.authDeadline.Add(-100 * time.Millisecond); t.After(limit) {
		t = limit
	}
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-c.ctx.Done():
	}
}
