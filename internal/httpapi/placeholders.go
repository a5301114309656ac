package httpapi

import (
	"bytes"
	"encoding/json"
)

// Keen's dynamic placeholders (docs/contract.md §7): a string value that is
// exactly "${keen.ip}" or "${keen.user_agent}" is replaced with the
// request's client IP or User-Agent header. Only the HTTP request knows
// them, so the substitution happens here, before the event is written to its
// raw topic; the pipeline then sees the event as Keen would have stored it.
// The rule is package event's (parse.go): the string's JSON text must be
// exactly the placeholder (no escapes), and property names are left alone.

var (
	placeholderIP = []byte(`"${keen.ip}"`)
	placeholderUA = []byte(`"${keen.user_agent}"`)
	placeholderAt = []byte(`"${keen.`)
)

// substitutePlaceholders returns payload with every placeholder value
// replaced; payload itself when it has none. It expects valid JSON; on
// anything else it stops at the first unterminated string and keeps the
// rest as it is (the event is refused later anyway).
func substitutePlaceholders(payload []byte, clientIP, userAgent string) []byte {
	if !bytes.Contains(payload, placeholderAt) {
		return payload
	}
	ip, _ := json.Marshal(clientIP) // strings always encode
	ua, _ := json.Marshal(userAgent)
	var out []byte
	last := 0
	for i := 0; i < len(payload); {
		if payload[i] != '"' {
			i++
			continue
		}
		end := stringEnd(payload, i)
		if end < 0 {
			break
		}
		tok := payload[i:end]
		var repl []byte
		switch {
		case bytes.Equal(tok, placeholderIP):
			repl = ip
		case bytes.Equal(tok, placeholderUA):
			repl = ua
		}
		if repl != nil && !followedByColon(payload, end) {
			out = append(append(out, payload[last:i]...), repl...)
			last = end
		}
		i = end
	}
	if out == nil {
		return payload
	}
	return append(out, payload[last:]...)
}

// stringEnd returns the index just past the string token starting at the
// quote at start, or -1 when it is not terminated.
func stringEnd(b []byte, start int) int {
	for j := start + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// followedByColon tells a property name from a string value.
func followedByColon(b []byte, i int) bool {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}
