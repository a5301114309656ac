package kafkaproto

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestSASLAuthenticate(t *testing.T) {
	const delay = 150 * time.Millisecond
	for _, tc := range []struct {
		name    string
		token   string
		version int16
		errMsg  string // "" = success
	}{
		{"ok v0", "\x00p1\x00k1", 0, ""},
		{"ok v1", "\x00p1\x00k1", 1, ""},
		{"ok v2", "\x00p1\x00k1", 2, ""},
		{"authzid equal to user", "p1\x00p1\x00k1", 2, ""},
		{"wrong password", "\x00p1\x00nope", 2, badCredentials},
		{"unknown user", "\x00p9\x00k1", 1, badCredentials},
		{"authzid of another user", "p2\x00p1\x00k1", 2, errAuthzid.Error()},
		{"no separators", "p1k1", 2, "invalid PLAIN token"},
		{"empty password", "\x00p1\x00", 0, "invalid PLAIN token"},
		{"extra NUL", "\x00p1\x00k1\x00", 2, "invalid PLAIN token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(c *Config) { c.AuthFailureDelay = delay })
			rc := ts.dial(t)
			start := time.Now()
			resp := rc.saslV1(tc.token, tc.version)
			elapsed := time.Since(start)
			if tc.errMsg == "" {
				if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 0 {
					t.Fatalf("error %d, lifetime %d", resp.ErrorCode, resp.SessionLifetimeMillis)
				}
				if r := rc.roundTrip(metadataReq(tc.version+1, "t")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
					t.Fatalf("metadata after auth: %+v", r)
				}
				return
			}
			if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
				t.Fatalf("error %d, want 58", resp.ErrorCode)
			}
			if resp.ErrorMessage == nil || *resp.ErrorMessage != tc.errMsg {
				t.Fatalf("message %v, want %q", resp.ErrorMessage, tc.errMsg)
			}
			if elapsed < delay {
				t.Errorf("failure answered after %v, before AuthFailureDelay %v", elapsed, delay)
			}
			rc.expectClosed()
			if n := ts.obs.authFailures(); n != 1 {
				t.Errorf("AuthFailed called %d times", n)
			}
		})
	}
}

func TestSASLUnsupportedMechanism(t *testing.T) {
	for _, v := range []int16{0, 1} {
		ts := startServer(t)
		rc := ts.dial(t)
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = v, "SCRAM-SHA-256"
		resp := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse)
		if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code {
			t.Fatalf("v%d: error %d, want 33", v, resp.ErrorCode)
		}
		if len(resp.SupportedMechanisms) != 1 || resp.SupportedMechanisms[0] != "PLAIN" {
			t.Fatalf("v%d: mechanisms %v", v, resp.SupportedMechanisms)
		}
		rc.expectClosed()
		waitFor(t, "refusal", func() bool { return ts.obs.refusals(RefusalSASLMechanism) == 1 })
	}
}

// SaslHandshake v0 (kafka-python 2.0.x): the token follows as a bare
// length-prefixed frame; success is an empty frame, failure a close.
func TestSASLUnframedV0(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"success", "\x00p1\x00k1", true},
		{"wrong password", "\x00p1\x00bad", false},
		{"malformed", "garbage", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t)
			rc := ts.dial(t)
			// kafka-python sends ApiVersions v0 first.
			rc.roundTrip(&kmsg.ApiVersionsRequest{Version: 0})
			hs := kmsg.NewPtrSASLHandshakeRequest()
			hs.Version, hs.Mechanism = 0, "PLAIN"
			if r := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse); r.ErrorCode != 0 {
				t.Fatalf("handshake error %d", r.ErrorCode)
			}
			rc.write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tc.token))), tc.token...))
			if !tc.ok {
				rc.expectClosed()
				if n := ts.obs.authFailures(); n != 1 {
					t.Errorf("AuthFailed called %d times", n)
				}
				return
			}
			b, err := rc.readFrame()
			if err != nil || len(b) != 0 {
				t.Fatalf("want an empty frame, got %x, %v", b, err)
			}
			if r := rc.roundTrip(metadataReq(1, "t")).(*kmsg.MetadataResponse); len(r.Topics) != 1 {
				t.Fatalf("metadata after auth: %+v", r)
			}
		})
	}
}

func TestParsePlain(t *testing.T) {
	for _, tc := range []struct {
		in                  string
		authzid, user, pass string
		ok                  bool
	}{
		{"\x00u\x00p", "", "u", "p", true},
		{"z\x00u\x00p", "z", "u", "p", true},
		{"\x00u\x00p\x00", "", "", "", false},
		{"\x00\x00p", "", "", "", false},
		{"\x00u\x00", "", "", "", false},
		{"u\x00p", "", "", "", false},
		{"", "", "", "", false},
	} {
		z, u, p, err := parsePlain([]byte(tc.in))
		if (err == nil) != tc.ok || z != tc.authzid || u != tc.user || p != tc.pass {
			t.Errorf("parsePlain(%q) = %q, %q, %q, %v", tc.in, z, u, p, err)
		}
	}
}
