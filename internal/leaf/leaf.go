// Package leaf defines the typed leaves of a stored event: one per
// (property path, JSON type), the unit the store's typed columns hold.
// Nested objects become paths; arrays are leaves (not descended into);
// empty objects give no leaf (so "exists" is false for them).
//
// Two producers must agree on them: Flatten, which reads a stored event's
// JSON, and the event package's streaming path, which emits them while it
// validates the event (so that the store need not read the JSON again).
package leaf

import (
	"strconv"
	"strings"
)

// Types: a leaf's type is a suffix of its key ("country" + Sep + "$s"); Keen
// property names never start with "$" nor contain ".", so it cannot collide
// with a property.
const (
	String    = "s"  // a string
	Number    = "n"  // a number (float64)
	Bool      = "b"  // true or false
	Null      = "z"  // JSON null
	StrArray  = "as" // an array of strings only (or an empty array)
	JSONArray = "aj" // any other array, as its compact JSON
)

// Sep joins a path's parts in a key (never in a property name a query can
// name: query paths come from splitting on ".").
const Sep = "\x1f"

// Field is one typed leaf of an event. Its value is in the field of its
// type: one field per type rather than an interface, because boxing a value
// in an interface is an allocation, and an event has a dozen leaves or more.
type Field struct {
	Key string // path parts joined by Sep, then Sep + "$" + type
	// Str is a String's value (a slice of the event's JSON when it has no
	// escapes, so appending it copies once, into the store), or a
	// JSONArray's compact JSON.
	Str  []byte
	Strs [][]byte // a StrArray's strings (none for an empty array)
	Num  float64  // a Number's value
	Bool bool     // a Bool's value; true for Null
}

// String renders the leaf as path.$type=value, strings quoted, for tests
// and logs.
func (f Field) String() string {
	path, typ := SplitKey(f.Key)
	var v string
	switch typ {
	case String, JSONArray:
		v = strconv.Quote(string(f.Str))
	case Number:
		v = strconv.FormatFloat(f.Num, 'g', -1, 64)
	case Bool, Null:
		v = strconv.FormatBool(f.Bool)
	case StrArray:
		parts := make([]string, len(f.Strs))
		for i, e := range f.Strs {
			parts[i] = strconv.Quote(string(e))
		}
		v = "[" + strings.Join(parts, ",") + "]"
	default:
		v = "?"
	}
	return strings.Join(path, ".") + ".$" + typ + "=" + v
}

// Key returns the key of the leaf of type typ at path (parts joined by
// Sep).
func Key(path, typ string) string { return path + Sep + "$" + typ }

// AppendKey appends Key(path, typ) to dst (to build a key in a reused
// buffer, for Keys.Intern).
func AppendKey(dst, path []byte, typ string) []byte {
	return append(append(append(dst, path...), Sep+"$"...), typ...)
}

// SplitKey returns the path parts and the type of a key.
func SplitKey(k string) ([]string, string) {
	i := strings.LastIndex(k, Sep+"$")
	return strings.Split(k[:i], Sep), k[i+2:]
}

// KeenPrefix starts the path of every field of the keen object.
const KeenPrefix = "keen" + Sep

// IsOwnKeenField tells whether path is keen.id, keen.timestamp or
// keen.created_at. sluice sets them, as strings, on every event, and the
// store keeps them in columns of their own, so they are not leaves (three
// strings per event less to append, store and compress).
func IsOwnKeenField(path []byte) bool {
	if len(path) < len(KeenPrefix)+2 || string(path[:len(KeenPrefix)]) != KeenPrefix {
		return false
	}
	switch string(path[len(KeenPrefix):]) {
	case "id", "timestamp", "created_at":
		return true
	}
	return false
}

// Keys interns leaf keys, so that events of the same shape share one key
// string per leaf instead of allocating one per event. Not safe for
// concurrent use.
type Keys struct {
	keys  map[string]string
	shape []string // the keys of the last event's leaves, in order
}

// maxKeys bounds the interned keys: a Keys lives as long as the worker that
// uses it, and events whose property names are data (ids as names) would
// otherwise grow it without end. Past it, interning starts afresh.
const maxKeys = 1 << 14

// Intern returns the interned copy of key, the n-th leaf of its event. The
// events of a stream mostly have one shape, so the n-th leaf's key is first
// looked for where the last event had its n-th leaf: one comparison instead
// of hashing the key.
func (ks *Keys) Intern(n int, key []byte) string {
	if n < len(ks.shape) && ks.shape[n] == string(key) {
		return ks.shape[n]
	}
	k, ok := ks.keys[string(key)] // no allocation for the lookup
	if !ok {
		if ks.keys == nil || len(ks.keys) >= maxKeys {
			ks.keys = map[string]string{}
		}
		k = string(key)
		ks.keys[k] = k
	}
	if n < len(ks.shape) {
		ks.shape[n] = k
	} else if n == len(ks.shape) {
		ks.shape = append(ks.shape, k)
	}
	return k
}
