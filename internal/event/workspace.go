package event

import (
	"sync"

	"github.com/sluice-io/sluice/internal/leaf"
)

// workspace holds the memory one Process call parses into. The event tree
// lives only until the stored JSON is written (Event.JSON is a fresh
// buffer), so the memory goes back to a pool and the per-event path makes
// almost no garbage: members of every object and array are cut from one
// slab instead of growing a slice per object.
type workspace struct {
	stack []member // members of the objects and arrays being read, innermost last
	slab  []member // members of finished objects and arrays
	text  []byte   // JSON text sluice writes into the tree (keen object, add-on output, autofill)
	path  []pathElem
	spans []span // property names, for the streaming path (stream.go)
	// The streaming path's leaves (leaves.go): the notes of this event, the
	// paths they point to, and what is kept from one event to the next.
	leafNotes []leafNote
	leafPaths []byte
	leafPath  []byte // the streamer's current path
	kbuf      []byte
	leafKeys  leaf.Keys      // the notes' keys
	flat      leaf.Flattener // for the values noted whole (it interns their keys)
	// lastHadAddons: the last event processed with this workspace had
	// add-ons (a hint for Process; reset keeps it).
	lastHadAddons bool
}

// maxPooledSlab: a workspace grown by a huge event is dropped, not kept.
const maxPooledSlab = 1 << 14

var workspaces = sync.Pool{New: func() any {
	return &workspace{stack: make([]member, 0, 64), slab: make([]member, 0, 256), text: make([]byte, 0, 128),
		path: make([]pathElem, 0, 16), spans: make([]span, 0, 64)}
}}

func getWorkspace() *workspace { return workspaces.Get().(*workspace) }

// pop moves the members from stack[base:] to the slab and returns them.
func (ws *workspace) pop(base int) []member {
	m := ws.keep(ws.stack[base:])
	ws.stack = ws.stack[:base]
	return m
}

// keep copies members to the slab. The returned slice's capacity is its
// length, so appending to it (an add-on's output, autofill) reallocates
// instead of overwriting a neighbour.
func (ws *workspace) keep(src []member) []member {
	n := len(src)
	if cap(ws.slab)-len(ws.slab) < n {
		// A new chunk; the full one stays alive as long as the tree uses it.
		ws.slab = make([]member, 0, max(n, 2*cap(ws.slab)))
	}
	start := len(ws.slab)
	ws.slab = append(ws.slab, src...)
	return ws.slab[start : start+n : start+n]
}

// release returns the workspace to the pool. Its slices still point into the
// last event until they are reused; the pool drops idle workspaces at the
// next garbage collections, so that is bounded, and clearing them would cost
// more than the rest of the bookkeeping.
func (ws *workspace) release() {
	if cap(ws.slab) > maxPooledSlab || cap(ws.stack) > maxPooledSlab || cap(ws.text) > maxPooledSlab || cap(ws.spans) > maxPooledSlab ||
		cap(ws.leafNotes) > maxPooledSlab || cap(ws.leafPaths) > maxPooledSlab {
		return
	}
	ws.reset()
	workspaces.Put(ws)
}

// reset forgets everything the workspace holds, for a fresh start.
func (ws *workspace) reset() {
	ws.slab, ws.stack, ws.text, ws.path, ws.spans = ws.slab[:0], ws.stack[:0], ws.text[:0], ws.path[:0], ws.spans[:0]
	ws.leafNotes, ws.leafPaths = ws.leafNotes[:0], ws.leafPaths[:0]
}
