package event

import (
	"fmt"

	"github.com/sluice-io/sluice/internal/leaf"
)

// Leaves: while the streaming path reads an event, it also notes where each
// typed leaf (package leaf) of the stored event is, so that the store need
// not read the event's JSON a second time to find them. A note is a span of
// the body being written (stream.go); once the stored JSON is assembled, the
// notes become leaf.Fields pointing into it (materialize). The result is the
// same as leaf.Flatten of the stored JSON: stream_test.go checks it on every
// event it streams.

// leafKind is what a note holds.
type leafKind uint8

const (
	leafString leafKind = iota // a JSON string token
	leafNumber
	leafTrue
	leafFalse
	leafNull
	// leafArray is an array the event holds (compact: the streamer drops
	// whitespace); its type, StrArray or JSONArray, is found when the note
	// becomes a leaf.
	leafArray
	// leafValue is any JSON value (one that autofill wrote) flattened on
	// its own at its path.
	leafValue
)

// leafNote is one noted leaf, or value to flatten.
type leafNote struct {
	key        string // the interned leaf key; "" for leafArray and leafValue (their path is in leafPaths)
	kind       leafKind
	start, end int32 // the value's span in the body
	path       int32 // leafArray, leafValue: where the path is in the workspace's leafPaths
	pathEnd    int32
}

// noteLeaf notes the value at body[start:s.outPos()] of kind, at s.path.
func (s *streamer) noteLeaf(kind leafKind, start int) {
	ws := s.ws
	n := leafNote{kind: kind, start: int32(start), end: int32(s.outPos())}
	if kind == leafArray || kind == leafValue {
		n.path = int32(len(ws.leafPaths))
		ws.leafPaths = append(ws.leafPaths, s.path...)
		n.pathEnd = int32(len(ws.leafPaths))
	} else {
		typ := leaf.String
		switch kind {
		case leafNumber:
			typ = leaf.Number
		case leafTrue, leafFalse:
			typ = leaf.Bool
		case leafNull:
			typ = leaf.Null
		}
		ws.kbuf = leaf.AppendKey(ws.kbuf[:0], s.path, typ)
		n.key = ws.leafKeys.Intern(len(ws.leafNotes), ws.kbuf)
	}
	ws.leafNotes = append(ws.leafNotes, n)
}

// kindOf is the kind of note of a primitive value starting with c ('[' and
// '{' are not primitives: the caller handles them).
func kindOf(c byte) leafKind {
	switch c {
	case '"':
		return leafString
	case 't':
		return leafTrue
	case 'f':
		return leafFalse
	case 'n':
		return leafNull
	}
	return leafNumber
}

// outPos is the position in the body of data[s.pos], which is still in the
// run to copy.
func (s *streamer) outPos() int { return len(s.out) + s.pos - s.from }

// materialize turns the notes into the leaves of doc, the stored JSON: its
// keen object is doc[keenStart:headLen], and the body the notes point into
// starts at doc[headLen] (processStream). keenLeaves: the keen object has
// more than the fields the store keeps in columns of its own (a location, a
// uniqueness token).
func (ws *workspace) materialize(doc []byte, keenStart, headLen int, keenLeaves bool) ([]leaf.Field, error) {
	out := make([]leaf.Field, 0, len(ws.leafNotes)+2)
	var err error
	if keenLeaves {
		if out, err = ws.flat.Value(doc[keenStart:headLen], keenPath, out, 0); err != nil {
			return nil, fmt.Errorf("event: leaves of the keen object: %w", err)
		}
	}
	shift := headLen
	for i := range ws.leafNotes {
		n := &ws.leafNotes[i]
		tok := doc[shift+int(n.start) : shift+int(n.end)]
		f := leaf.Field{Key: n.key}
		switch n.kind {
		case leafString:
			if f.Str, err = leaf.StringValue(tok); err != nil {
				return nil, err
			}
		case leafNumber:
			if f.Num, err = leaf.NumberValue(tok); err != nil {
				return nil, err
			}
		case leafTrue, leafNull:
			f.Bool = true
		case leafFalse:
		case leafArray:
			typ, strs, err := leaf.ArrayValue(tok)
			if err != nil {
				return nil, err
			}
			if typ == leaf.StrArray {
				f.Strs = strs
			} else {
				f.Str = tok
			}
			path := ws.leafPaths[n.path:n.pathEnd]
			ws.kbuf = leaf.AppendKey(ws.kbuf[:0], path, typ)
			f.Key = ws.leafKeys.Intern(i, ws.kbuf)
		case leafValue:
			if out, err = ws.flat.Value(tok, ws.leafPaths[n.path:n.pathEnd], out, 0); err != nil {
				return nil, fmt.Errorf("event: leaves of a value: %w", err)
			}
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

var keenPath = []byte("keen")
