package kafkaproto

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// VersionRange is an inclusive range of request versions.
type VersionRange struct {
	Min, Max int16
}

func (r VersionRange) contains(v int16) bool { return r.Min <= v && v <= r.Max }

// The server answers these keys itself, in every role. SaslHandshake v0 is
// kept for kafka-python 2.0.x (unframed tokens); ApiVersions stops at 4,
// which is what Kafka 4.x serves, because v5 (KIP-1242) asks the server to
// check cluster and node ids that only the gateway's handler knows (and
// checkPreAuthBody knows the v3/v4 request shape only).
var ownAPIs = map[int16]VersionRange{
	int16(kmsg.ApiVersions):      {0, 4},
	int16(kmsg.SASLHandshake):    {0, 1},
	int16(kmsg.SASLAuthenticate): {0, 2},
}

// apiTable is an immutable snapshot of what is advertised and accepted.
type apiTable struct {
	ranges map[int16]VersionRange
	keys   []kmsg.ApiVersionsResponseApiKey // sorted by key: the ApiVersions answer
}

// newAPITable validates the configured ranges and adds the server's own.
// A Max above what kmsg can parse is lowered to kmsg's max: kmsg silently
// decodes an unknown higher version with the newest shape it knows, so
// accepting it would misparse the request.
func newAPITable(cfg map[int16]VersionRange) (*apiTable, error) {
	t := &apiTable{ranges: make(map[int16]VersionRange, len(cfg)+len(ownAPIs))}
	for key, r := range cfg {
		if _, own := ownAPIs[key]; own {
			continue // the server's own ranges win; see ownAPIs
		}
		req := kmsg.RequestForKey(key)
		if req == nil {
			return nil, fmt.Errorf("kafkaproto: API key %d is unknown to kmsg", key)
		}
		if r.Min < 0 || r.Min > r.Max {
			return nil, fmt.Errorf("kafkaproto: API key %d (%s): invalid version range %d–%d", key, kmsg.NameForKey(key), r.Min, r.Max)
		}
		r.Max = min(r.Max, req.MaxVersion())
		if r.Min > r.Max {
			return nil, fmt.Errorf("kafkaproto: API key %d (%s): min version %d above the highest kmsg can parse (%d)", key, kmsg.NameForKey(key), r.Min, r.Max)
		}
		t.ranges[key] = r
	}
	for key, r := range ownAPIs {
		t.ranges[key] = r
	}
	for key, r := range t.ranges {
		t.keys = append(t.keys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: r.Min, MaxVersion: r.Max})
	}
	slices.SortFunc(t.keys, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return t, nil
}

func (t *apiTable) allows(key, version int16) bool {
	r, ok := t.ranges[key]
	return ok && r.contains(version)
}

// unsupportedApiVersions is the answer to an ApiVersions request at a version
// the server does not speak (KIP-511): always v0, which every client can
// read, with UNSUPPORTED_VERSION and only ApiVersions' own range so that the
// client retries at the highest version both sides know. Kafka sends exactly
// this; kgo and the Java client both look for key 18 in it.
func unsupportedApiVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	r := ownAPIs[int16(kmsg.ApiVersions)]
	resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: int16(kmsg.ApiVersions), MinVersion: r.Min, MaxVersion: r.Max}}
	return resp
}

// apiVersionsResponse answers a parsed ApiVersions request. No features are
// advertised (FinalizedFeaturesEpoch stays -1): the features Kafka lists
// (group.version, transaction.version, share.version) describe protocols the
// gateway does not offer, and neither kgo nor the Java producer/consumer
// need any of them for the classic APIs.
func apiVersionsResponse(req *kmsg.ApiVersionsRequest, t *apiTable) *kmsg.ApiVersionsResponse {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if req.Version >= 3 && (!validSoftware(req.ClientSoftwareName) || !validSoftware(req.ClientSoftwareVersion)) {
		// As Kafka: the client learns nothing until it sends valid names.
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	resp.ApiKeys = slices.Clone(t.keys)
	return resp
}

// validSoftware mirrors Kafka's check of ClientSoftwareName/Version:
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftware(s string) bool {
	alnum := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
