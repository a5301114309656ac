package duckdb

import (
	"bytes"
	"encoding/json"
	"errors"
)

// withoutMember returns doc, the JSON of an object, without the member at
// path (every occurrence of a repeated name), keeping every other byte as
// it is: extraction returns events exactly as stored. changed says whether
// the member was there; a path through a value that is not an object
// leaves doc unchanged.
func withoutMember(doc []byte, path []string) (out []byte, changed bool, err error) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return doc, false, nil
	}
	var b bytes.Buffer
	b.Write(doc[:i+1])
	i++
	first := true
	for {
		last := i // after the last member
		i = skipSpace(doc, i)
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
			i = skipSpace(doc, i+1)
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
		i = skipSpace(doc, kEnd)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false, errors.New("a member has no value")
		}
		vStart := skipSpace(doc, i+1)
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
			v, ch, err := withoutMember(value, path[1:])
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
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("a value is missing")
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errors.New("a string is not closed")
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
