package event

import (
	"errors"
	"slices"
	"time"

	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/limits"
)

var keenName, keenQuoted = []byte("keen"), []byte(`"keen"`)

// Input is one raw event and what the caller knows about it.
type Input struct {
	Payload []byte // the event's JSON as received; not modified, and not kept after Process returns
	// RecordTime is keen.timestamp when the client set none: the Kafka
	// record's timestamp (for HTTP, the time the request was received). When
	// zero, CreatedAt is used.
	RecordTime time.Time
	ID         string    // keen.id: see ID
	CreatedAt  time.Time // keen.created_at: the processing time
	// Autofill is the writing access key's options.writes.autofill, nil if
	// none (autofill.go).
	Autofill map[string]any
	// Leaves asks for Event.Leaves.
	Leaves bool
}

// Event is the stored event.
type Event struct {
	ID        string
	Timestamp time.Time // keen.timestamp, UTC, milliseconds
	CreatedAt time.Time // keen.created_at, UTC, milliseconds
	// UniquenessToken is keen.uniqueness_token ("" if none): the caller
	// keeps only the first event of a collection with a given token
	// (docs/contract.md §7). It also stays in the stored keen object.
	UniquenessToken string
	// JSON is the stored event, keen object included, keen.addons left
	// out. It is valid UTF-8: invalid input is refused, and the strings
	// sluice adds (autofill, add-ons, the client's IP and User-Agent) are
	// written with U+FFFD for invalid bytes.
	JSON []byte
	// Leaves are the typed leaves of JSON (package leaf), as leaf.Flatten
	// gives them, pointing into JSON. They are set (non-nil, even when
	// empty) when Input.Leaves asked for them and the event took the
	// streaming path, which finds them as it reads the event; nil otherwise.
	Leaves []leaf.Field
}

// Processor processes events. It is safe for concurrent use.
type Processor struct {
	geo *GeoIP
}

// NewProcessor returns a Processor; geo may be nil, and events that ask for
// keen:ip_to_geo are then refused with a message saying why.
func NewProcessor(geo *GeoIP) (*Processor, error) {
	return &Processor{geo: geo}, nil
}

// Process checks and enriches one event. A refused event gives an *Error
// (Keen's error name and a message for the client or the DLQ); any other
// error is the caller's mistake (no ID).
func (p *Processor) Process(in Input) (Event, error) {
	if in.ID == "" {
		return Event{}, errors.New("event: Input.ID is empty")
	}
	if len(in.Payload) > limits.MaxEventBytes {
		return Event{}, newError(ErrInvalidEvent, "the event is %d bytes; Keen accepts events of at most %d bytes", len(in.Payload), limits.MaxEventBytes)
	}
	ws := getWorkspace()
	defer ws.release()
	// The streaming path learns that an event has add-ons only at its keen
	// member, often late in the event, and must then leave it to the tree
	// path. Events of one stream tend to be alike, so after an event with
	// add-ons, the next one goes the tree path first. Both paths give the
	// same result: this hint only saves reading add-on events twice, and an
	// event never costs more than the tree path alone plus one stream.
	if !ws.lastHadAddons {
		if ev, ok := p.processStream(ws, &in); ok {
			return ev, nil
		}
		ws.reset()
	}
	// Anything the streaming path does not take, refusals included, goes
	// the general way, from scratch.
	ev, addons, err := p.processTree(ws, &in)
	ws.lastHadAddons = addons
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}

// processStream is the common case (stream.go): no add-ons, the event is
// copied in one pass. ok is false when the event needs processTree.
func (p *Processor) processStream(ws *workspace, in *Input) (Event, bool) {
	var af *value
	size := len(in.Payload) + 192
	if in.Autofill != nil {
		v, err := autofillObject(ws, in.Autofill, ws.path[:0])
		if err != nil {
			return Event{}, false
		}
		v.remove("keen")
		af = &v
		size += encodedLen(af)
	}
	body, k, ok := p.stream(ws, in, af, make([]byte, 0, size))
	if !ok {
		return Event{}, false
	}
	ev := newEvent(in, &k)
	// The body is ,"name":value…} (stream.go): the head, {"keen":{…}, goes
	// in front of it, in the same buffer.
	kv := keenObject(ws, &ev, &k)
	n, headLen := len(body), len(`{"keen":`)+encodedLen(&kv)
	body = append(body, make([]byte, headLen)...)
	copy(body[headLen:], body[:n])
	appendValue(append(body[:0], `{"keen":`...), &kv)
	ev.JSON = body
	if in.Leaves {
		// An error here would be a bug (the stored JSON is sluice's own);
		// without leaves, the store flattens the JSON itself.
		ev.Leaves, _ = ws.materialize(body, len(`{"keen":`), headLen, k.location.kind == kindObject || k.tokenRaw != nil)
	}
	return ev, true
}

// newEvent is the stored event before its JSON, from what the client set
// under keen.
func newEvent(in *Input, k *keenFields) Event {
	ts := in.RecordTime
	switch {
	case k.hasTimestamp:
		ts = k.timestamp
	case ts.IsZero():
		ts = in.CreatedAt
	}
	return Event{ID: in.ID, Timestamp: normalizeTime(ts), CreatedAt: normalizeTime(in.CreatedAt), UniquenessToken: k.token}
}

// processTree is the general way: the event is parsed into a tree
// (json.go), the add-ons and autofill work on the tree, and the tree is
// written out. addons reports whether the event has add-ons.
func (p *Processor) processTree(ws *workspace, in *Input) (ev Event, addons bool, _ *Error) {
	root, err := parseEvent(in.Payload, ws)
	if err != nil {
		return Event{}, false, err
	}

	var k keenFields
	if i := root.index("keen"); i >= 0 {
		if k, err = p.readKeen(&root.members[i].val); err != nil {
			return Event{}, false, err
		}
		root.members = slices.Delete(root.members, i, i+1)
	}
	ev = newEvent(in, &k)

	// The keen object goes first (into the slot the parser kept), and before
	// the add-ons run, so that they can read keen.timestamp.
	root.members[0] = member{name: keenName, quoted: keenQuoted, val: keenObject(ws, &ev, &k)}

	budget := limits.MaxAddonInputBytesPerEvent
	for i := range k.addons {
		if err := p.runAddon(ws, &root, &k.addons[i], &budget); err != nil {
			return Event{}, true, err
		}
	}
	if in.Autofill != nil {
		if err := applyAutofill(ws, &root, in.Autofill); err != nil {
			return Event{}, len(k.addons) > 0, err
		}
	}
	ev.JSON = appendValue(make([]byte, 0, len(in.Payload)+192+384*len(k.addons)), &root)
	return ev, len(k.addons) > 0, nil
}
