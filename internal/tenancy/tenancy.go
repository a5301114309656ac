// Package tenancy owns every naming and visibility rule between what a
// project's clients see (collections, topics, groups) and the backend's
// names (DESIGN decision 4). Everything here is a pure function.
//
// Backend names:
//
//	sluice.in.<pid>.<collection>          raw events written with a key without autofill
//	sluice.inak.<pid>.<keyid>.<collection> raw events written with access key <keyid>, which has autofill
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
	rawPrefix    = "sluice.in."
	rawKeyPrefix = "sluice.inak."
	outPrefix    = "sluice.out."
	groupPrefix  = "sluice."
	pidLen       = 24
	keyIDLen     = 16
)

// ErrInvalidTopic explains why a name cannot be a collection topic.
type ErrInvalidTopic struct{ Name, Reason string }

func (e *ErrInvalidTopic) Error() string {
	return fmt.Sprintf("topic %q is not a valid collection name: %s", e.Name, e.Reason)
}

// CheckCollectionTopic applies the Inbound listener's rule for a topic name
// (CONTRACT §3): [a-zA-Z0-9._-], 1 to 64 characters, not ending in -dlq.
func CheckCollectionTopic(name string) error {
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
	for i := 0; i < len(name); i++ {
		if !topicChar(name[i]) {
			return &ErrInvalidTopic{name, fmt.Sprintf("character %q is not allowed (use a-z, A-Z, 0-9, '.', '_', '-')", name[i])}
		}
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

// RawTopic is the backend topic for a collection's raw events. keyID is the
// KeyID of the writing access key when that key has autofill, else "": the
// topic itself then tells the pipeline whose autofill applies, so a producer
// can neither escape nor forge it and no batch is re-encoded.
func RawTopic(pid, keyID, collection string) string {
	if keyID == "" {
		return rawPrefix + pid + "." + collection
	}
	return rawKeyPrefix + pid + "." + keyID + "." + collection
}

// RawTopicRegex matches every name RawTopic makes (and more: ParseRawTopic
// is the authority), for subscribing to all raw topics at once.
const RawTopicRegex = `^sluice\.(in|inak)\..+$`

// Raw is a parsed raw topic name.
type Raw struct {
	ProjectID  string
	KeyID      string // "" when written without autofill
	Collection string
}

// ParseRawTopic reverses RawTopic.
func ParseRawTopic(topic string) (Raw, bool) {
	var r Raw
	rest, ok := strings.CutPrefix(topic, rawPrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(topic, rawKeyPrefix); !ok {
			return r, false
		}
		if len(rest) < keyIDLen+pidLen+2 || rest[pidLen] != '.' || rest[pidLen+1+keyIDLen] != '.' {
			return r, false
		}
		r.KeyID = rest[pidLen+1 : pidLen+1+keyIDLen]
		if !isHex(r.KeyID) {
			return r, false
		}
		r.ProjectID, r.Collection = rest[:pidLen], rest[pidLen+keyIDLen+2:]
	} else {
		if len(rest) < pidLen+2 || rest[pidLen] != '.' {
			return r, false
		}
		r.ProjectID, r.Collection = rest[:pidLen], rest[pidLen+1:]
	}
	if !isHex(r.ProjectID) || CheckCollectionTopic(r.Collection) != nil {
		return Raw{}, false
	}
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
