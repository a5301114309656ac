package kafkaproto

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestApiVersions(t *testing.T) {
	ts := startServer(t)
	want := map[int16]VersionRange{
		0: {0, 12}, 3: {0, 12}, 22: {0, 5}, // testAPIs
		17: {0, 1}, 18: {0, 4}, 36: {0, 2}, // the server's own
	}
	for v := int16(0); v <= 4; v++ {
		rc := ts.dial(t)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = v, "raw-test", "1.0.0"
		resp := rc.roundTrip(req).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		got := map[int16]VersionRange{}
		for i, k := range resp.ApiKeys {
			if i > 0 && resp.ApiKeys[i-1].ApiKey >= k.ApiKey {
				t.Errorf("v%d: keys not sorted", v)
			}
			got[k.ApiKey] = VersionRange{k.MinVersion, k.MaxVersion}
		}
		if len(got) != len(want) {
			t.Errorf("v%d: advertised %v, want %v", v, got, want)
		}
		for k, r := range want {
			if got[k] != r {
				t.Errorf("v%d: key %d advertised %v, want %v", v, k, got[k], r)
			}
		}
		if v >= 3 && (resp.FinalizedFeaturesEpoch != -1 || len(resp.FinalizedFeatures) != 0) {
			t.Errorf("v%d: features advertised: %+v", v, resp.FinalizedFeatures)
		}
	}
}

// An ApiVersions version the server does not speak is answered KIP-511 style,
// at v0, with UNSUPPORTED_VERSION and ApiVersions' own range.
func TestApiVersionsUnsupportedVersion(t *testing.T) {
	ts := startServer(t)
	for _, v := range []int16{5, 99, -1} {
		rc := ts.dial(t)
		corr := rc.corr + 1
		rc.write(rawFrame(18, v, corr, []byte{1, 2, 3})) // body unparsed
		rc.corr = corr
		resp := rc.read(&kmsg.ApiVersionsRequest{Version: 0}, corr).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("v%d: error %d, want 35", v, resp.ErrorCode)
		}
		if k := resp.ApiKeys; len(k) != 1 || k[0].ApiKey != 18 || k[0].MinVersion != 0 || k[0].MaxVersion != 4 {
			t.Fatalf("v%d: keys %+v", v, resp.ApiKeys)
		}
		// The client retries lower on the same connection.
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 4, "raw-test", "1"
		if r := rc.roundTrip(req).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 || len(r.ApiKeys) != 6 {
			t.Fatalf("retry: error %d, %d keys", r.ErrorCode, len(r.ApiKeys))
		}
	}
}

func TestApiVersionsSoftwareName(t *testing.T) {
	ts := startServer(t)
	for _, tc := range []struct {
		name, version string
		code          int16
	}{
		{"raw-test", "1.2.3", 0},
		{"-bad", "1.0", kerr.InvalidRequest.Code},
		{"ok", "", kerr.InvalidRequest.Code},
		{"has space", "1", kerr.InvalidRequest.Code},
	} {
		rc := ts.dial(t)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 3, tc.name, tc.version
		if got := rc.roundTrip(req).(*kmsg.ApiVersionsResponse).ErrorCode; got != tc.code {
			t.Errorf("%q/%q: error %d, want %d", tc.name, tc.version, got, tc.code)
		}
		if tc.code != 0 {
			continue
		}
		// The name is kept on the Conn the handler sees.
		rc.saslV1("\x00p1\x00k1", 2)
		rc.roundTrip(metadataReq(12))
		_, conns := ts.handler.seen()
		c := conns[len(conns)-1]
		if n, v := c.ClientSoftware(); n != tc.name || v != tc.version {
			t.Errorf("ClientSoftware() = %q, %q", n, v)
		}
		if c.ClientID() != "raw-test" || c.Principal().User() != "p1" {
			t.Errorf("ClientID() = %q, user %q", c.ClientID(), c.Principal().User())
		}
	}
}

// ApiVersions stays available after authentication.
func TestApiVersionsAfterAuth(t *testing.T) {
	rc := startServer(t).dialAuth(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	if r := rc.roundTrip(req).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
		t.Fatalf("error %d", r.ErrorCode)
	}
}

func TestNewAPITable(t *testing.T) {
	for _, tc := range []struct {
		name string
		apis map[int16]VersionRange
		ok   bool
		want map[int16]VersionRange // checked entries
	}{
		{"empty", nil, true, map[int16]VersionRange{18: {0, 4}}},
		{"own keys ignored", map[int16]VersionRange{18: {0, 5}, 17: {1, 1}}, true, map[int16]VersionRange{18: {0, 4}, 17: {0, 1}}},
		{"clamped to kmsg", map[int16]VersionRange{3: {0, 100}}, true, map[int16]VersionRange{3: {0, (&kmsg.MetadataRequest{}).MaxVersion()}}},
		{"unknown key", map[int16]VersionRange{1000: {0, 0}}, false, nil},
		{"negative min", map[int16]VersionRange{3: {-1, 2}}, false, nil},
		{"min above max", map[int16]VersionRange{3: {3, 2}}, false, nil},
		{"min above kmsg", map[int16]VersionRange{3: {90, 100}}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := newAPITable(tc.apis)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			for k, r := range tc.want {
				if tab.ranges[k] != r {
					t.Errorf("key %d: %v, want %v", k, tab.ranges[k], r)
				}
			}
		})
	}
}

func TestValidSoftware(t *testing.T) {
	for s, ok := range map[string]bool{
		"kgo": true, "apache-kafka-java": true, "4.0.0": true, "a": true, "1.0-SNAPSHOT": true,
		"": false, "-a": false, "a-": false, "a b": false, "a_b": false, "é": false, ".a": false,
	} {
		if validSoftware(s) != ok {
			t.Errorf("validSoftware(%q) = %v", s, !ok)
		}
	}
}
