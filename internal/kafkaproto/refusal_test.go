package kafkaproto

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Everything a client may not do closes the connection, unanswered, and is
// counted with its reason.
func TestRefusals(t *testing.T) {
	sizeOnly := func(n uint32) func(*rawClient) []byte {
		return func(*rawClient) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	}
	req := func(r kmsg.Request) func(*rawClient) []byte {
		return func(rc *rawClient) []byte { _, b := rc.frame(r); return b }
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 4
	handshake := func(v int16) *kmsg.SASLHandshakeRequest {
		r := kmsg.NewPtrSASLHandshakeRequest()
		r.Version, r.Mechanism = v, "PLAIN"
		return r
	}
	authenticate := kmsg.NewPtrSASLAuthenticateRequest()
	authenticate.SASLAuthBytes = []byte("\x00p1\x00k1")
	truncated := func(rc *rawClient) []byte {
		_, b := rc.frame(metadataReq(1, "a", "b"))
		b = b[:len(b)-3]
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		return b
	}

	for _, tc := range []struct {
		name   string
		authed bool
		frame  func(*rawClient) []byte
		reason Refusal
	}{
		{"oversize after auth", true, sizeOnly(2 << 20), RefusalFrameTooLarge},
		{"oversize before auth (pre-auth cap)", false, sizeOnly(maxPreAuthBytes + 1), RefusalFrameTooLarge},
		{"negative size", true, sizeOnly(0xffffffff), RefusalFrameTooLarge},
		{"short header", true, func(*rawClient) []byte { return []byte{0, 0, 0, 3, 0, 3, 0} }, RefusalMalformed},
		{"truncated body", true, truncated, RefusalMalformed},
		{"unknown key", true, func(*rawClient) []byte { return rawFrame(1000, 0, 1, nil) }, RefusalUnknownKey},
		{"unknown key before auth", false, func(*rawClient) []byte { return rawFrame(-1, 0, 1, nil) }, RefusalUnknownKey},
		{"key not allowed", true, req(fetch), RefusalNotAllowed},
		{"version above range", true, req(metadataReq(13)), RefusalVersion},
		{"version below range", true, func(*rawClient) []byte { return rawFrame(3, -1, 1, nil) }, RefusalVersion},
		{"request before auth", false, req(metadataReq(1)), RefusalSASLState},
		{"authenticate before handshake", false, req(authenticate), RefusalSASLState},
		{"handshake after auth", true, req(handshake(1)), RefusalSASLState},
		{"handshake version out of range", false, req(handshake(2)), RefusalVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t)
			rc := ts.dial(t)
			if tc.authed {
				rc = ts.dialAuth(t)
			}
			rc.write(tc.frame(rc))
			rc.expectClosed()
			waitFor(t, "refusal count", func() bool { return ts.obs.refusals(tc.reason) == 1 })
			if keys, _ := ts.handler.seen(); len(keys) != 0 {
				t.Errorf("handler saw %v", keys)
			}
		})
	}
}

// A handler that misbehaves closes that connection only; a panic is
// recovered.
func TestHandlerMisbehaviour(t *testing.T) {
	for _, topic := range []string{"panic", "error", "nil", "wrongversion"} {
		t.Run(topic, func(t *testing.T) {
			ts := startServer(t)
			if topic == "panic" {
				ts.allowPanics = 1
			}
			rc := ts.dialAuth(t)
			rc.send(metadataReq(12, topic))
			rc.expectClosed()
			// The server carries on.
			if r := ts.dialAuth(t).roundTrip(metadataReq(12, "ok")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
				t.Fatalf("next connection: %+v", r)
			}
		})
	}
}

// A tag section claiming billions of tags makes kmsg (v1.15.0) loop for
// minutes. Before authentication every flexible section is checked first.
func TestTagCountBomb(t *testing.T) {
	bomb := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // uvarint 2^32-1
	body := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	noTags := []byte{0}
	for _, tc := range []struct {
		name      string
		handshake bool
		authed    bool
		frame     []byte
	}{
		{"ApiVersions header tags", false, false, rawFrame(18, 3, 1, bomb)},
		{"ApiVersions body tags", false, false, rawFrame(18, 4, 1, body(noTags, []byte{2, 'a', 2, '1'}, bomb))},
		{"SaslAuthenticate body tags", true, false, rawFrame(36, 2, 1, body(noTags, []byte{3, 0, 'x'}, bomb))},
		{"header tags after auth", false, true, rawFrame(3, 12, 1, bomb)},
		// Guarded by the patched kmsg in third_party/kmsg.
		{"Metadata body tags after auth", false, true, rawFrame(3, 12, 1, body(noTags, []byte{1, 0, 0}, bomb))},
		{"Produce body tags after auth", false, true, rawFrame(0, 9, 1, body(noTags, []byte{0, 0xff, 0xff, 0, 0, 0x27, 0x10, 1}, bomb))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t)
			rc := ts.dial(t)
			switch {
			case tc.authed:
				rc = ts.dialAuth(t)
			case tc.handshake:
				rc.roundTrip(&kmsg.SASLHandshakeRequest{Version: 1, Mechanism: "PLAIN"})
			}
			start := time.Now()
			rc.write(tc.frame)
			rc.expectClosed()
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
			waitFor(t, "refusal", func() bool { return ts.obs.refusals(RefusalMalformed) == 1 })
		})
	}
}

func TestSkipTags(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		ok   bool
		rest int
	}{
		{[]byte{0}, true, 0},
		{[]byte{0, 9}, true, 1},
		{[]byte{1, 5, 2, 'a', 'b', 7}, true, 1},
		{[]byte{2, 5, 0, 6, 0}, true, 0},
		{[]byte{2, 5, 0}, false, 0},
		{[]byte{1, 5, 3, 'a'}, false, 0},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0}, false, 0},
		{[]byte{0x80}, false, 0},
		{nil, false, 0},
	} {
		r := kbin.Reader{Src: tc.in}
		err := skipTags(&r)
		if (err == nil) != tc.ok || (tc.ok && len(r.Src) != tc.rest) {
			t.Errorf("skipTags(%x) = %v, %d left", tc.in, err, len(r.Src))
		}
	}
}

// Config.Unlisted answers authenticated requests for keys outside the
// table; the connection stays open. A nil answer closes it.
func TestUnlisted(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Unlisted = func(_ *Conn, req kmsg.Request) kmsg.Response {
			if req.Key() != int16(kmsg.Fetch) {
				return nil
			}
			resp := req.ResponseKind().(*kmsg.FetchResponse)
			resp.SetVersion(req.GetVersion())
			resp.ErrorCode = 29
			return resp
		}
	})
	rc := ts.dialAuth(t)
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 11
	if r := rc.roundTrip(fetch).(*kmsg.FetchResponse); r.ErrorCode != 29 {
		t.Fatalf("Fetch answered %d", r.ErrorCode)
	}
	if r := rc.roundTrip(metadataReq(12, "still open")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
		t.Fatalf("connection unusable after the refusal: %+v", r)
	}
	list := kmsg.NewPtrListGroupsRequest()
	rc.send(list)
	rc.expectClosed()
	waitFor(t, "refusal count", func() bool { return ts.obs.refusals(RefusalNotAllowed) == 1 })

	// Before authentication Unlisted is never asked.
	pre := ts.dial(t)
	pre.send(fetch)
	pre.expectClosed()
}
