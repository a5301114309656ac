package event

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The keen namespace (docs/contract.md §7). Clients may set:
//
//	keen.timestamp         ISO-8601; normalized to UTC, milliseconds, "Z"
//	keen.location          an object; only "coordinates" = [longitude, latitude]
//	keen.addons            add-on specifications; run, then left out of the stored event
//	keen.uniqueness_token  a string of 1 to 64 characters, for deduplication
//
// keen.id and keen.created_at are always sluice's own. A client-sent value is
// silently overwritten rather than refused: events extracted from Keen (or
// from sluice) carry both, and re-posting them must work — Keen drops the
// system-managed ones on re-post the same way (docs/contract.md §7).
// Any other key under keen is refused (InvalidKeenNamespaceProperty).

const maxUniquenessTokenLen = 64

// keenFields is what the client put under keen, checked.
type keenFields struct {
	timestamp    time.Time
	hasTimestamp bool
	location     value // as sent, checked; kind null if none
	addons       []addon
	token        string
	tokenRaw     []byte // as sent (JSON text), copied into the stored event
}

func (p *Processor) readKeen(v *value) (keenFields, *Error) {
	var k keenFields
	if v.kind != kindObject {
		return k, newError(ErrNamespaceType, `"keen" must be an object, not %s`, v.kind)
	}
	for i := range v.members {
		if err := p.readKeenMember(&k, &v.members[i]); err != nil {
			return k, err
		}
	}
	return k, nil
}

// readKeenMember checks one member of the client's keen object into k.
func (p *Processor) readKeenMember(k *keenFields, m *member) *Error {
	switch name := string(m.name); name {
	case "timestamp":
		s, ok := m.val.str()
		if !ok {
			return newError(ErrInvalidPropertyValue, "keen.timestamp must be an ISO-8601 string such as 2014-04-25T20:38:04.084Z, not %s", m.val.kind)
		}
		t, _, ok := parseISO8601(s)
		if !ok {
			return newError(ErrInvalidPropertyValue, "keen.timestamp %s is not an ISO-8601 date-time such as 2014-04-25T20:38:04.084Z", quoteShort([]byte(s)))
		}
		k.timestamp, k.hasTimestamp = t, true
	case "id", "created_at":
		// Overwritten by sluice (see above).
	case "location":
		if err := checkLocation(&m.val); err != nil {
			return err
		}
		k.location = m.val
	case "addons":
		addons, err := p.readAddons(&m.val)
		if err != nil {
			return err
		}
		k.addons = addons
	case "uniqueness_token":
		s, ok := m.val.str()
		if !ok {
			return newError(ErrInvalidPropertyValue, "keen.uniqueness_token must be a string, not %s", m.val.kind)
		}
		if n := utf8.RuneCountInString(s); n == 0 || n > maxUniquenessTokenLen {
			return newError(ErrInvalidPropertyValue, "keen.uniqueness_token is %d characters long; it must have 1 to %d characters", n, maxUniquenessTokenLen)
		}
		k.token, k.tokenRaw = s, m.val.raw
	default:
		return newError(ErrInvalidKeenNamespace,
			"keen.%s is not allowed: clients may set only keen.timestamp, keen.location, keen.addons and keen.uniqueness_token (keen.id and keen.created_at are set by sluice)",
			string(m.name))
	}
	return nil
}

// checkLocation: keen.location is the geo point of the event, and the only
// property Keen's "within" geo filter reads, so its shape is strict:
// {"coordinates": [longitude, latitude]} with numbers in range.
func checkLocation(v *value) *Error {
	if v.kind != kindObject {
		return newError(ErrInvalidPropertyValue, `keen.location must be an object such as {"coordinates": [-122.42, 37.77]}, not %s`, v.kind)
	}
	for i := range v.members {
		m := &v.members[i]
		if string(m.name) != "coordinates" {
			return newError(ErrInvalidKeenNamespace, "keen.location.%s is not allowed: keen.location holds only coordinates", string(m.name))
		}
		c := &m.val
		if c.kind != kindArray || len(c.members) != 2 || c.elem(0).kind != kindNumber || c.elem(1).kind != kindNumber {
			return newError(ErrInvalidPropertyValue, "keen.location.coordinates must be [longitude, latitude], two numbers")
		}
		lon, _ := strconv.ParseFloat(string(c.elem(0).raw), 64)
		lat, _ := strconv.ParseFloat(string(c.elem(1).raw), 64)
		if math.Abs(lon) > 180 || math.Abs(lat) > 90 {
			return newError(ErrInvalidPropertyValue,
				"keen.location.coordinates [%s, %s] is out of range: [longitude, latitude] needs -180 ≤ longitude ≤ 180 and -90 ≤ latitude ≤ 90",
				c.elem(0).raw, c.elem(1).raw)
		}
	}
	return nil
}

// keenObject builds the stored keen object, in the workspace's memory.
func keenObject(ws *workspace, ev *Event, k *keenFields) value {
	base := len(ws.stack)
	ws.stack = append(ws.stack,
		member{name: keenTimestamp[0], quoted: keenTimestamp[1], val: timeValue(ws, ev.Timestamp)},
		member{name: keenCreatedAt[0], quoted: keenCreatedAt[1], val: timeValue(ws, ev.CreatedAt)},
		member{name: keenID[0], quoted: keenID[1], val: ws.str(ev.ID)},
	)
	if k.location.kind == kindObject {
		ws.stack = append(ws.stack, member{name: keenLocation[0], quoted: keenLocation[1], val: k.location})
	}
	if k.tokenRaw != nil {
		ws.stack = append(ws.stack, member{name: keenToken[0], quoted: keenToken[1], val: value{kind: kindString, raw: k.tokenRaw}})
	}
	return value{kind: kindObject, members: ws.pop(base)}
}

// Names of the keen object's members: decoded and as JSON text.
var (
	keenTimestamp = [2][]byte{[]byte("timestamp"), []byte(`"timestamp"`)}
	keenCreatedAt = [2][]byte{[]byte("created_at"), []byte(`"created_at"`)}
	keenID        = [2][]byte{[]byte("id"), []byte(`"id"`)}
	keenLocation  = [2][]byte{[]byte("location"), []byte(`"location"`)}
	keenToken     = [2][]byte{[]byte("uniqueness_token"), []byte(`"uniqueness_token"`)}
)

func timeValue(ws *workspace, t time.Time) value {
	start := len(ws.text)
	ws.text = append(appendKeenTime(append(ws.text, '"'), t), '"')
	return value{kind: kindString, raw: ws.text[start:len(ws.text):len(ws.text)]}
}

// ID is the keen.id of the record at (topic, partition, offset): 24 lowercase
// hex characters, the first 12 bytes of SHA-256 over a length-prefixed
// encoding of the three. The same raw record always gets the same id, so a
// record processed twice (after a crash, a rebalance) is stored once; topic
// should be the backend topic the record was read from, which already names
// the project.
func ID(topic string, partition int32, offset int64) string {
	var scratch [128]byte // on the stack: a topic name is at most 249 bytes, most are far shorter
	buf := append(scratch[:0], "sluice.event.id.v1"...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(topic)))
	buf = append(buf, topic...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(partition))
	buf = binary.BigEndian.AppendUint64(buf, uint64(offset))
	sum := sha256.Sum256(buf)
	var id [24]byte
	hex.Encode(id[:], sum[:12])
	return string(id[:])
}
