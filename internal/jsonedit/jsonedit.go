// Package jsonedit edits event JSON in place of bytes: what a store
// returns must be the event exactly as stored, but for the edit.
package jsonedit

import (
	"bytes"
	"errors"

	"github.com/sluice-io/sluice/internal/jsontok"
)

// WithoutMember returns doc, the JSON of an object, without the member at
// path (every occurrence of a repeated name), keeping every other member's
// bytes as they are (the separators between members become a bare comma,
// as in the compact JSON sluice stores). changed says whether the member was there; a path through a
// value that is not an object leaves doc unchanged.
func WithoutMember(doc []byte, path []string) (out []byte, changed bool, err error) {
	i := jsontok.SkipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return doc, false, nil
	}
	var b bytes.Buffer
	b.Write(doc[:i+1])
	i++
	first := true
	for {
		last := i // after the last member
		i = jsontok.SkipSpace(doc, i)
		if i >= len(doc) {
			return nil, false, errors.New("an object is not closed")
		}
		switch doc[i] {
		case '}':
			if !changed {
				return doc, false, nil
			}
			b.Write(doc[last:])
			return b.Bytes(), true, nil
		case ',':
			i = jsontok.SkipSpace(doc, i+1)
		}
		kStart := i
		kEnd, err := skipValue(doc, i)
		if err != nil {
			return nil, false, err
		}
		if doc[kStart] != '"' {
			return nil, false, errors.New("a member's name is not a string")
		}
		name, err := memberName(doc[kStart:kEnd])
		if err != nil {
			return nil, false, err
		}
		i = jsontok.SkipSpace(doc, kEnd)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false, errors.New("a member has no value")
		}
		vStart := jsontok.SkipSpace(doc, i+1)
		vEnd, err := skipValue(doc, vStart)
		if err != nil {
			return nil, false, err
		}
		i = vEnd
		value := doc[vStart:vEnd]
		if name == path[0] {
			if len(path) == 1 {
				changed = true
				continue // dropped
			}
			v, ch, err := WithoutMember(value, path[1:])
			if err != nil {
				return nil, false, err
			}
			changed = changed || ch
			value = v
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(doc[kStart:vStart])
		b.Write(value)
	}
}

// memberName decodes a member's name (a JSON string, quotes included).
func memberName(q []byte) (string, error) {
	s, ok := jsontok.Unquote(q)
	if !ok {
		return "", errors.New("a member's name is not a valid JSON string")
	}
	return string(s), nil
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("a value is missing")
	}
	switch b[i] {
	case '"':
		end, _, ok := jsontok.StringEnd(b, i)
		if !ok {
			return 0, errors.New("a string is not closed")
		}
		return end, nil
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipValue(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("an object or array is not closed")
	default:
		j := i
		for j < len(b) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(b[j])) {
			j++
		}
		if j == i {
			return 0, errors.New("a value is missing")
		}
		return j, nil
	}
}
