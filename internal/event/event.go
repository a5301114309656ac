package event

import (
	"errors"
	"slices"
	"time"
)

var keenName, keenQuoted = []byte("keen"), []byte(`"keen"`)

// MaxEventSize is Keen's limit for one event's JSON, in bytes (keen-api.md
// §4.3).
const MaxEventSize = 900_000

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
	// ClientIP and UserAgent replace the dynamic placeholders "${keen.ip}"
	// and "${keen.user_agent}" (a string value that is exactly one of them,
	// anywhere in the event). The HTTP API knows them; Kafka Inbound does
	// not, and leaves them empty, which keeps the placeholders as text.
	ClientIP, UserAgent string
}

// Event is the stored event.
type Event struct {
	ID        string
	Timestamp time.Time // keen.timestamp, UTC, milliseconds
	CreatedAt time.Time // keen.created_at, UTC, milliseconds
	// UniquenessToken is keen.uniqueness_token ("" if none): the caller
	// keeps only the first event of a collection with a given token
	// (keen-api.md §4.4). It also stays in the stored keen object.
	UniquenessToken string
	JSON            []byte // the stored event, keen object included, keen.addons left out
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
	if len(in.Payload) > MaxEventSize {
		return Event{}, newError(ErrInvalidEvent, "the event is %d bytes; Keen accepts events of at most %d bytes", len(in.Payload), MaxEventSize)
	}
	var subst substitutions
	if in.ClientIP != "" {
		subst.ip = appendString(nil, in.ClientIP)
	}
	if in.UserAgent != "" {
		subst.userAgent = appendString(nil, in.UserAgent)
	}
	ws := getWorkspace()
	defer ws.release()
	root, err := parseEvent(in.Payload, subst, ws)
	if err != nil {
		return Event{}, err
	}

	var k keenFields
	if i := root.index("keen"); i >= 0 {
		if k, err = p.readKeen(&root.members[i].val); err != nil {
			return Event{}, err
		}
		root.members = slices.Delete(root.members, i, i+1)
	}
	ts := in.RecordTime
	switch {
	case k.hasTimestamp:
		ts = k.timestamp
	case ts.IsZero():
		ts = in.CreatedAt
	}
	ev := Event{ID: in.ID, Timestamp: normalizeTime(ts), CreatedAt: normalizeTime(in.CreatedAt), UniquenessToken: k.token}

	// The keen object goes first (into the slot the parser kept), and before
	// the add-ons run, so that they can read keen.timestamp.
	root.members[0] = member{name: keenName, quoted: keenQuoted, val: keenObject(ws, &ev, &k)}

	for i := range k.addons {
		if err := p.runAddon(ws, &root, &k.addons[i]); err != nil {
			return Event{}, err
		}
	}
	if in.Autofill != nil {
		if err := applyAutofill(ws, &root, in.Autofill); err != nil {
			return Event{}, err
		}
	}
	ev.JSON = appendValue(make([]byte, 0, len(in.Payload)+192+384*len(k.addons)), &root)
	return ev, nil
}
