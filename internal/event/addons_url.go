package event

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// keen:url_parser — input "url"; output (docs/contract.md §7):
//
//	{"protocol": "http", "domain": "my-website.com", "path": "/cool/link",
//	 "anchor": "title", "query_string": {"source": "twitter", "foo": "bar/"}}
//
// A part the URL lacks is omitted, as Keen documents; an input that is not a
// string or does not parse gives {}. Decisions where Keen is silent:
//   - path and anchor are percent-decoded ("/caf%C3%A9" → "/café"), as are
//     query keys and values ("+" is a space); the domain is lower-cased and
//     has no port;
//   - a query key that appears twice keeps its first value;
//   - query keys must become valid property names: "." becomes "_", a
//     leading "$" becomes "_", and an empty key or one of 256 characters or
//     more is dropped.
func enrichURL(ws *workspace, v *value) value {
	s, ok := v.str()
	if !ok {
		return value{kind: kindObject}
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return value{kind: kindObject}
	}
	var parts [5]member
	n := 0
	add := func(name string, v value) {
		parts[n] = field(name, v)
		n++
	}
	if u.Scheme != "" {
		add("protocol", ws.str(u.Scheme))
	}
	if h := u.Hostname(); h != "" {
		add("domain", ws.str(strings.ToLower(h)))
	}
	if u.Path != "" {
		add("path", ws.str(u.Path))
	}
	if u.Fragment != "" {
		add("anchor", ws.str(u.Fragment))
	}
	if q := queryObject(ws, u.RawQuery); len(q.members) > 0 {
		add("query_string", q)
	}
	return ws.object(parts[:n]...)
}

// queryObject turns a raw query string into an object, in the order the
// keys appear.
func queryObject(ws *workspace, raw string) value {
	base := len(ws.stack)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key := queryKey(unescapeQuery(k))
		if key == "" || (&value{members: ws.stack[base:]}).find(key) != nil {
			continue
		}
		ws.stack = append(ws.stack, newMember(key, ws.str(unescapeQuery(v))))
	}
	return value{kind: kindObject, members: ws.pop(base)}
}

func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// queryKey makes a query parameter name a valid Keen property name, or "".
func queryKey(k string) string {
	if k == "" || utf8.RuneCountInString(k) > maxPropertyNameLen || !utf8.ValidString(k) {
		return ""
	}
	k = strings.ReplaceAll(k, ".", "_")
	if k[0] == '$' {
		k = "_" + k[1:]
	}
	return k
}
