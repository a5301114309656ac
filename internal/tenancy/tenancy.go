// Package tenancy owns every naming and visibility rule between what a
// project's clients see (collections, topics, groups) and the backend's
// names (docs/decisions.md §4). Everything here is a pure function.
//
// Backend names:
//
//	sluice.in.<pid>.<collection>          raw events written with a key without autofill
//	sluice.inak.<pid>.<keyid>.<collection> raw events written with access key <keyid>, which has autofill
//	sluice.inx.<pid>.<hex>                the same two for a collection whose name is no valid
//	sluice.inakx.<pid>.<keyid>.<hex>      Kafka topic name ("$my collection$ %", HTTP only): hex of the name
//	sluice.out.<pid>.<topic>              enriched events (and <topic>-dlq) for Kafka Outbound
//	sluice.<pid>.<group>                  consumer groups of the Outbound listener
//
// The project id has a fixed length (24 hex) and so has the key id (16 hex),
// so every name parses back without ambiguity even though collections may
// contain dots. No backend name ever reaches a client.
package tenancy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Limits of collection topic names on the Inbound listener.
const (
	MaxCollectionLen = 64
	DLQSuffix        = "-dlq"
)

const (
	rawPrefix     = "sluice.in."
	rawKeyPrefix  = "sluice.inak."
	rawXPrefix    = "sluice.inx."
	rawKeyXPrefix = "sluice.inakx."
	outPrefix     = "sluice.out."
	groupPrefix   = "sluice."
	pidLen        = 24
	keyIDLen      = 16
)

// ErrInvalidTopic explains why a name cannot be a collection topic.
type ErrInvalidTopic struct{ Name, Reason string }

func (e *ErrInvalidTopic) Error() string {
	return fmt.Sprintf("topic %q is not a valid collection name: %s", e.Name, e.Reason)
}

// CheckCollectionTopic applies the Inbound listener's rule for a topic name
// (docs/contract.md §3): [a-zA-Z0-9._-], 1 to 64 characters, not ending in -dlq.
func CheckCollectionTopic(name string) error {
	if err := checkCollectionShape(name); err != nil {
		return err
	}
	for i := 0; i < len(name); i++ {
		if !topicChar(name[i]) {
			return &ErrInvalidTopic{name, fmt.Sprintf("character %q is not allowed (use a-z, A-Z, 0-9, '.', '_', '-')", name[i])}
		}
	}
	return nil
}

// checkCollectionShape is what both collection rules share: length, "." and
// "..", and the DLQ suffix.
func checkCollectionShape(name string) error {
	switch {
	case name == "":
		return &ErrInvalidTopic{name, "it is empty"}
	case len(name) > MaxCollectionLen:
		return &ErrInvalidTopic{name, fmt.Sprintf("it is longer than %d characters", MaxCollectionLen)}
	case name == "." || name == "..":
		return &ErrInvalidTopic{name, `"." and ".." are not allowed`}
	case strings.HasSuffix(name, DLQSuffix):
		return &ErrInvalidTopic{name, `the suffix "-dlq" names dead letter queues`}
	}
	return nil
}

func topicChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// KeyID names an access key in backend topic names without revealing it.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:keyIDLen]
}

// CheckCollectionName applies the HTTP API's rule for a collection name
// (docs/contract.md §3): 1 to 64 printable ASCII characters (space included), not
// ending in -dlq, and not "." or ".." (which no outbound topic could carry).
// Every name CheckCollectionTopic accepts passes.
func CheckCollectionName(name string) error {
	if err := checkCollectionShape(name); err != nil {
		return err
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return &ErrInvalidTopic{name, fmt.Sprintf("character %q is not allowed (collection names are printable ASCII)", c)}
		}
	}
	return nil
}

// RawTopic is the backend topic for a collection's raw events. keyID is the
// KeyID of the writing access key when that key has autofill, else "": the
// topic itself then tells the pipeline whose autofill applies, so a producer
// can neither escape nor forge it and no batch is re-encoded.
//
// A collection whose name is a valid Kafka topic name keeps it as is, so
// events of one collection produced over Kafka and over HTTP share one raw
// topic. Any other name (HTTP allows every printable ASCII character) is
// written in lowercase hex under its own prefix: reversible, and at most
// 13+24+1+16+1+128 = 183 characters, below Kafka's 249.
func RawTopic(pid, keyID, collection string) string {
	plain := CheckCollectionTopic(collection) == nil
	switch {
	case keyID == "" && plain:
		return rawPrefix + pid + "." + collection
	case keyID == "":
		return rawXPrefix + pid + "." + hex.EncodeToString([]byte(collection))
	case plain:
		return rawKeyPrefix + pid + "." + keyID + "." + collection
	default:
		return rawKeyXPrefix + pid + "." + keyID + "." + hex.EncodeToString([]byte(collection))
	}
}

// RawTopicRegex matches every name RawTopic makes (and more: ParseRawTopic
// is the authority), for subscribing to all raw topics at once.
const RawTopicRegex = `^sluice\.(in|inak|inx|inakx)\..+$`

// Raw is a parsed raw topic name.
type Raw struct {
	ProjectID  string
	KeyID      string // "" when written without autofill
	Collection string
}

// ParseRawTopic reverses RawTopic. Only the form RawTopic makes for a name
// is accepted (a hex-encoded name that is a valid topic name is not), so a
// collection has exactly one family of raw topics.
func ParseRawTopic(topic string) (Raw, bool) {
	var r Raw
	var rest string
	var keyed, encoded, ok bool
	for _, f := range []struct {
		prefix         string
		keyed, encoded bool
	}{{rawPrefix, false, false}, {rawKeyPrefix, true, false}, {rawXPrefix, false, true}, {rawKeyXPrefix, true, true}} {
		if rest, ok = strings.CutPrefix(topic, f.prefix); ok {
			keyed, encoded = f.keyed, f.encoded
			break
		}
	}
	if !ok || len(rest) < pidLen+2 || rest[pidLen] != '.' {
		return Raw{}, false
	}
	r.ProjectID, rest = rest[:pidLen], rest[pidLen+1:]
	if keyed {
		if len(rest) < keyIDLen+2 || rest[keyIDLen] != '.' {
			return Raw{}, false
		}
		r.KeyID, rest = rest[:keyIDLen], rest[keyIDLen+1:]
		if !isHex(r.KeyID) {
			return Raw{}, false
		}
	}
	if !isHex(r.ProjectID) {
		return Raw{}, false
	}
	if !encoded {
		if CheckCollectionTopic(rest) != nil {
			return Raw{}, false
		}
		r.Collection = rest
		return r, true
	}
	name, err := hex.DecodeString(rest)
	if err != nil || !isHex(rest) || CheckCollectionName(string(name)) != nil || CheckCollectionTopic(string(name)) == nil {
		return Raw{}, false
	}
	r.Collection = string(name)
	return r, true
}

// OutboundTopicName is the client-visible outbound topic for a collection:
// every character outside [a-zA-Z0-9._-] becomes '_'
// ("$my collection$ %" → "_my_collection___").
func OutboundTopicName(collection string) string {
	b := []byte(collection)
	for i, c := range b {
		if !topicChar(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

// CheckOutboundTopic checks a topic name a consumer asks for: what
// OutboundTopicName can produce (a sanitized collection name, up to 64
// characters) or its DLQ.
func CheckOutboundTopic(name string) error {
	base := strings.TrimSuffix(name, DLQSuffix)
	switch {
	case base == "" || len(base) > MaxCollectionLen:
		return &ErrInvalidTopic{name, fmt.Sprintf("outbound topics are 1 to %d characters, plus %q for a DLQ", MaxCollectionLen, DLQSuffix)}
	case name == "." || name == "..":
		return &ErrInvalidTopic{name, `"." and ".." are not allowed`}
	}
	for i := 0; i < len(name); i++ {
		if !topicChar(name[i]) {
			return &ErrInvalidTopic{name, fmt.Sprintf("character %q is not allowed (use a-z, A-Z, 0-9, '.', '_', '-')", name[i])}
		}
	}
	return nil
}

// DLQTopicName is the client-visible dead letter queue of an outbound topic.
func DLQTopicName(topic string) string { return topic + DLQSuffix }

// BackendOutboundTopic maps a client-visible outbound topic (or DLQ) name.
func BackendOutboundTopic(pid, topic string) string { return outPrefix + pid + "." + topic }

// ClientOutboundTopic reverses BackendOutboundTopic for project pid.
func ClientOutboundTopic(pid, backend string) (string, bool) {
	rest, ok := strings.CutPrefix(backend, outPrefix+pid+".")
	return rest, ok && rest != ""
}

// BackendGroup maps a client's consumer group id into the project.
func BackendGroup(pid, group string) string { return groupPrefix + pid + "." + group }

// ClientGroup reverses BackendGroup for project pid.
func ClientGroup(pid, backend string) (string, bool) {
	return strings.CutPrefix(backend, groupPrefix+pid+".")
}

// ParseBackendGroup reverses BackendGroup: the project and the client's
// group id of a backend group, false for groups that are not a project's
// (sluice's own, such as the pipeline's).
func ParseBackendGroup(backend string) (pid, group string, ok bool) {
	rest, ok := strings.CutPrefix(backend, groupPrefix)
	if !ok || len(rest) < pidLen+1 || rest[pidLen] != '.' || !isHex(rest[:pidLen]) {
		return "", "", false
	}
	return rest[:pidLen], rest[pidLen+1:], true
}

// ErrBadProjectID is returned for a malformed project id.
var ErrBadProjectID = errors.New("project id must be 24 lowercase hex characters")

// CheckProjectID checks the shape of a project id (the SASL username).
func CheckProjectID(pid string) error {
	if len(pid) != pidLen || !isHex(pid) {
		return ErrBadProjectID
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}
