package event

import (
	"bytes"
	"slices"

	"github.com/sluice-io/sluice/internal/jsontok"
	"github.com/sluice-io/sluice/internal/leaf"
	"github.com/sluice-io/sluice/internal/limits"
)

// The streaming path: most events need no add-on, so their stored JSON is
// their own text with whitespace dropped, the client's keen member replaced
// by sluice's keen object at the front, and the access key's autofill merged
// in. stream reads such an event once, checking every rule as it goes, and
// copies runs of the input straight to the output instead of building a
// tree and writing it back: a compact event is copied in a few pieces.
//
// It handles only the common case and gives up (ok = false) on anything
// else: a refused event (the tree path finds the error and words the
// message), add-ons, escaped property names, names long enough that their
// characters must be counted, objects of more than 64 autofill members.
// Process then runs the tree path from scratch, so giving up never changes
// the result, only its cost; stream_test.go checks that both paths agree.

// streamer is one event being streamed.
type streamer struct {
	data  []byte
	pos   int
	from  int    // data[from:pos] is read and still to be copied to out as it is
	out   []byte // the body: the stored event without its head (see stream)
	depth int
	names []span // names of the objects being read, innermost last, for duplicate checks
	ws    *workspace
	p     *Processor
	keen  keenFields // what the client's keen member holds
	// leaves: note the stored event's leaves (leaves.go), at path, the
	// current property path (parts joined by leaf.Sep).
	leaves bool
	path   []byte
	props  int // properties read so far (tooManyProperties)
}

// span is a property name: data[start:end], quotes excluded, no escapes.
type span struct{ start, end int }

// stream writes the body of the stored event of in to out and returns it,
// with the client's keen fields. The body is the event object without its
// "{" and without the client's keen member: ,"name":value,…} — every member
// preceded by a comma, so that processStream only has to put the head
// {"keen":{…} in front of it. af is the autofill object (keen removed), nil
// if none.
func (p *Processor) stream(ws *workspace, in *Input, af *value, out []byte) ([]byte, keenFields, bool) {
	s := streamer{data: in.Payload, out: out, names: ws.spans[:0], ws: ws, p: p, leaves: in.Leaves, path: ws.leafPath[:0]}
	ws.leafNotes, ws.leafPaths = ws.leafNotes[:0], ws.leafPaths[:0]
	defer func() { ws.spans, ws.leafPath = s.names[:0], s.path[:0] }()
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' || !s.object(af, true) {
		return nil, keenFields{}, false
	}
	s.flush()
	s.skipSpace()
	if s.pos != len(s.data) {
		return nil, keenFields{}, false
	}
	if len(s.keen.addons) > 0 {
		return nil, keenFields{}, false
	}
	return s.out, s.keen, true
}

// object reads an object at s.pos, and merges merge (the autofill at this
// level, or nil) into it. root: it is the event object, of which the body
// is written (see stream).
func (s *streamer) object(merge *value, root bool) bool {
	if s.depth++; s.depth > limits.MaxEventDepth {
		return false
	}
	if merge != nil && len(merge.members) > 64 {
		return false
	}
	s.pos++ // '{'
	if root {
		s.out = append(s.out, ',')
		s.from = s.pos
	}
	s.dropSpace()
	base := len(s.names)
	var seen uint64      // the members of merge the event has
	var mergeBits uint64 // the nameBits of merge's members: most names need no look-up
	if merge != nil {
		for i := range merge.members {
			mergeBits |= bitOf(merge.members[i].name)
		}
	}
	var names nameSet
	empty := s.pos < len(s.data) && s.data[s.pos] == '}'
	for !empty {
		start := s.pos
		name, ok := s.name()
		if !ok {
			return false
		}
		var bit uint64
		if n := len(s.names) - base; n <= maxNameSet || merge != nil { // inlined: it runs for every name
			bit = nameBit(s.data, name)
			if n <= maxNameSet && names.bits&bit != 0 && !unique(s.data, s.names[base:]) {
				return false
			}
			names.bits |= bit
		}
		if root && string(s.data[name.start:name.end]) == "keen" {
			// Cut the member and the comma before it (the last byte of
			// the body so far) out of the run.
			s.out = append(s.out, s.data[s.from:start]...)
			s.out = s.out[:len(s.out)-1]
			if !s.readKeen() {
				return false
			}
			s.from = s.pos
		} else {
			if s.pos != name.end+2 {
				// name skipped spaces around ':' that are still in the
				// run: cut them out.
				s.out = append(s.out, s.data[s.from:name.end+1]...)
				s.out = append(s.out, ':')
				s.from = s.pos
			}
			if s.pos < len(s.data) && s.data[s.pos] != '{' {
				if s.props++; s.props > limits.MaxPropertiesPerEvent {
					return false // the tree path words the error
				}
			}
			pathBase := len(s.path)
			if s.leaves {
				s.enterPath(s.data[name.start:name.end])
			}
			switch {
			case mergeBits&bit == 0 && s.pos < len(s.data) && s.data[s.pos] == '"':
				start := s.outPos()
				ok = s.str() // most values: a call less
				if ok && s.leaves {
					s.noteLeaf(leafString, start)
				}
			case mergeBits&bit == 0: // not in merge
				ok = s.noteValue(nil)
			default:
				ok = s.memberValue(merge, name, &seen)
			}
			s.path = s.path[:pathBase]
			if !ok {
				return false
			}
		}
		s.dropSpace()
		if s.pos >= len(s.data) {
			return false
		}
		if c := s.data[s.pos]; c == '}' {
			break
		} else if c != ',' {
			return false
		}
		s.pos++
		s.dropSpace()
	}
	if !names.done(s.data, s.names[base:]) {
		return false
	}
	s.names = s.names[:base]
	s.flush()
	if root && len(s.out) > 0 && s.out[len(s.out)-1] == ',' {
		s.out = s.out[:len(s.out)-1] // {} or only keen: the body is "}"
	}
	if merge != nil {
		// The autofill members the event did not have go last, in
		// autofill's order, as merge (autofill.go) does. At the root, the
		// keen object is always before them.
		comma := root || !empty
		for i := range merge.members {
			if seen&(1<<i) != 0 {
				continue
			}
			if comma {
				s.out = append(s.out, ',')
			}
			m := &merge.members[i]
			if !s.leaves {
				s.out = appendMember(s.out, m)
			} else {
				pathBase := len(s.path)
				s.enterPath(m.name)
				s.out = append(append(s.out, m.quoted...), ':')
				start := len(s.out) // s.from is s.pos: the run was flushed
				s.out = appendValue(s.out, &m.val)
				s.noteLeaf(leafValue, start)
				s.path = s.path[:pathBase]
			}
			comma = true
		}
	}
	s.pos++ // '}', copied with the run
	s.depth--
	return true
}

// name reads a property name, and the ':' after it; s.pos is then at the
// value (spaces skipped but not cut from the run). Only names that need no
// decoding and whose length need not be counted in characters are taken:
// no escapes, at most 255 bytes.
func (s *streamer) name() (span, bool) {
	d, i := s.data, s.pos
	if i >= len(d) || d[i] != '"' {
		return span{}, false
	}
	end, ok := jsontok.PlainName(d, i)
	n := span{i + 1, end - 1}
	if !ok || n.end == n.start || n.end-n.start > maxPropertyNameLen || d[n.start] == '$' {
		return span{}, false
	}
	s.names = append(s.names, n)
	i = end
	if i < len(d) && d[i] == ':' { // compact JSON
		s.pos = i + 1
	} else {
		s.pos = i
		s.skipSpace()
		if s.pos >= len(d) || d[s.pos] != ':' {
			return span{}, false
		}
		s.pos++
	}
	s.skipSpace()
	return n, true
}

// readKeen reads and checks the value of the client's keen member (keen.go)
// into s.keen. The usual keen object holds only strings (a timestamp, a
// uniqueness token) and is read here; any other is small and read by the
// tree parser.
func (s *streamer) readKeen() bool {
	if taken, ok := s.readKeenStrings(); taken {
		return ok
	}
	tp := parser{data: s.data, pos: s.pos, depth: 1, ws: s.ws,
		path: append(s.ws.path[:0], pathElem{name: keenName, index: -1})}
	v, err := tp.parseValue(true)
	s.ws.path = tp.path[:0]
	if err != nil {
		return false
	}
	s.pos = tp.pos
	if a := v.find("addons"); a != nil && a.kind == kindArray && len(a.members) > 0 {
		return false // add-ons need the tree path: leave before reading them
	}
	s.keen, err = s.p.readKeen(&v)
	return err == nil
}

// readKeenStrings reads a compact keen object whose members are strings
// with plain names, each once; taken is false (and s.pos unchanged) for any
// other, which the tree parser reads.
func (s *streamer) readKeenStrings() (taken, ok bool) {
	d, i := s.data, s.pos
	if i >= len(d) || d[i] != '{' {
		return false, false
	}
	i++
	var k keenFields
	var seen uint8 // the keen members read, by their place in keenStringNames
	for i < len(d) && (d[i] != '}' || seen != 0) {
		if d[i] != '"' {
			return false, false
		}
		nameEnd, ok := jsontok.PlainName(d, i)
		if !ok || nameEnd >= len(d) || d[nameEnd] != ':' || nameEnd+1 >= len(d) || d[nameEnd+1] != '"' {
			return false, false
		}
		name := d[i+1 : nameEnd-1]
		which := slices.Index(keenStringNames, string(name))
		if which < 0 || seen&(1<<which) != 0 {
			return false, false
		}
		seen |= 1 << which
		end, ok := jsontok.String(d, nameEnd+1)
		if !ok {
			return false, false
		}
		m := member{name: name, val: value{kind: kindString, raw: d[nameEnd+1 : end]}}
		if err := s.p.readKeenMember(&k, &m); err != nil {
			return true, false
		}
		i = end
		if i < len(d) && d[i] == '}' {
			break
		}
		if i >= len(d) || d[i] != ',' {
			return false, false
		}
		i++ // a member must follow
	}
	if i >= len(d) {
		return false, false
	}
	s.pos, s.keen = i+1, k // after '}'
	return true, true
}

// keenStringNames are the keen members readKeenStrings takes.
var keenStringNames = []string{"timestamp", "uniqueness_token", "id", "created_at"}

// memberValue reads the value of member name of an object into which merge
// (the autofill at this level, or nil) is merged, as merge (autofill.go)
// does: both objects → merged member by member, else autofill's value
// replaces the event's (which must be valid all the same).
func (s *streamer) memberValue(merge *value, name span, seen *uint64) bool {
	if merge == nil {
		return s.noteValue(nil)
	}
	i := memberIndex(merge, s.data[name.start:name.end])
	if i < 0 {
		return s.noteValue(nil)
	}
	*seen |= 1 << i
	af := &merge.members[i].val
	if af.kind == kindObject && s.pos < len(s.data) && s.data[s.pos] == '{' {
		return s.value(af)
	}
	s.flush()
	mark := len(s.out)
	notes := len(s.ws.leafNotes)
	if !s.value(nil) {
		return false
	}
	s.out = appendValue(s.out[:mark], af)
	s.from = s.pos
	if s.leaves { // the event's value is gone: its leaves too
		s.ws.leafNotes = s.ws.leafNotes[:notes]
		s.noteLeaf(leafValue, mark)
	}
	return true
}

// noteValue reads a member's value as value does, and notes its leaf (an
// object notes its own members).
func (s *streamer) noteValue(merge *value) bool {
	start, at := s.outPos(), s.pos
	if !s.value(merge) {
		return false
	}
	if s.leaves {
		switch c := s.data[at]; c {
		case '{':
		case '[':
			s.noteLeaf(leafArray, start)
		default:
			s.noteLeaf(kindOf(c), start)
		}
	}
	return true
}

// enterPath appends a property name to the path.
func (s *streamer) enterPath(name []byte) {
	if len(s.path) > 0 {
		s.path = append(s.path, leaf.Sep...)
	}
	s.path = append(s.path, name...)
}

// value reads one value at s.pos (spaces before it already skipped) and
// leaves it in the run. merge is the autofill object to merge into it when
// it is an object.
func (s *streamer) value(merge *value) bool {
	if s.pos >= len(s.data) {
		return false
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(merge, false)
	case c == '[':
		return s.array()
	case c == '-' || (c >= '0' && c <= '9'):
		end, ok := jsontok.Number(s.data, s.pos)
		s.pos = end
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// str reads a string value.
func (s *streamer) str() bool {
	start := s.pos
	end, ok := jsontok.String(s.data, start)
	s.pos = end
	return ok
}

// array reads an array of primitives.
func (s *streamer) array() bool {
	if s.depth++; s.depth > limits.MaxEventDepth {
		return false
	}
	s.pos++ // '['
	s.dropSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return true
	}
	for {
		if s.pos >= len(s.data) || s.data[s.pos] == '{' || s.data[s.pos] == '[' || !s.value(nil) {
			return false
		}
		s.dropSpace()
		if s.pos >= len(s.data) {
			return false
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.dropSpace()
		case ']':
			s.pos++
			s.depth--
			return true
		default:
			return false
		}
	}
}

func (s *streamer) literal(word string) bool {
	end := s.pos + len(word)
	if end > len(s.data) || string(s.data[s.pos:end]) != word {
		return false
	}
	s.pos = end
	return true
}

// flush copies the pending run.
func (s *streamer) flush() {
	s.out = append(s.out, s.data[s.from:s.pos]...)
	s.from = s.pos
}

// skipSpace skips whitespace without cutting the run.
func (s *streamer) skipSpace() { s.pos = jsontok.SkipSpace(s.data, s.pos) }

// dropSpace skips whitespace and cuts it out of the run. Compact JSON has
// none: that check is small enough to be inlined (a byte above ' ' is not
// whitespace), the rest is not.
func (s *streamer) dropSpace() {
	if s.pos < len(s.data) && s.data[s.pos] <= ' ' {
		s.cutSpace()
	}
}

//go:noinline (keeps dropSpace small enough to be inlined)
func (s *streamer) cutSpace() {
	s.flush()
	s.skipSpace()
	s.from = s.pos
}

// nameSet checks that the names of one object are all different, as they
// are read. Each name sets a bit chosen by its length and its first and last
// bytes (nameBit), and only a name whose bit is already set is compared with
// the others (unique). Past 32 names the bits say little: the rest is
// checked once the object is read, by sorting (done).
type nameSet struct{ bits uint64 }

const maxNameSet = 32

func nameBit(data []byte, n span) uint64 { return bitOf(data[n.start:n.end]) }

func bitOf(name []byte) uint64 {
	if len(name) == 0 {
		return 1
	}
	h := uint32(len(name)) | uint32(name[0])<<8 | uint32(name[len(name)-1])<<16
	return 1 << (h * 0x9E3779B1 >> 26) // Fibonacci hashing: the top 6 bits
}

// unique reports whether the last of names differs from the others.
func unique(data []byte, names []span) bool {
	n := names[len(names)-1]
	a := data[n.start:n.end]
	for _, m := range names[:len(names)-1] {
		if string(a) == string(data[m.start:m.end]) {
			return false
		}
	}
	return true
}

// done checks a large object's names (and may reorder them).
func (ns *nameSet) done(data []byte, names []span) bool {
	if len(names) <= maxNameSet {
		return true
	}
	slices.SortFunc(names, func(a, b span) int {
		return bytes.Compare(data[a.start:a.end], data[b.start:b.end])
	})
	for i := 1; i < len(names); i++ {
		if string(data[names[i].start:names[i].end]) == string(data[names[i-1].start:names[i-1].end]) {
			return false
		}
	}
	return true
}

// memberIndex finds the member called name (decoded).
func memberIndex(v *value, name []byte) int {
	for i := range v.members {
		if string(v.members[i].name) == string(name) {
			return i
		}
	}
	return -1
}
