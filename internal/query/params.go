package query

import (
	"bytes"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Params are a query's parameters as the client sent them: name → JSON
// value. A JSON body gives them as they are; URL parameters are turned
// into JSON by FromURL.
type Params map[string]json.RawMessage

// kind is how a URL parameter's text becomes JSON.
type kind int

const (
	text       kind = iota // always a string: event_collection=a b
	number                 // a JSON number when it is one: percentile=50
	boolean                // true or false
	jsonText               // JSON (an array or object): filters=[…]
	jsonOrText             // JSON when it starts as JSON does, else a string: group_by=a or group_by=["a","b"]
)

// params are the parameters of Keen's query API, and how each is given in
// a URL.
var params = map[string]kind{
	"analysis_type":    text,
	"event_collection": text,
	"target_property":  text,
	"percentile":       number,
	"timeframe":        jsonOrText,
	"timezone":         jsonOrText,
	"filters":          jsonText,
	"group_by":         jsonOrText,
	"order_by":         jsonOrText,
	"limit":            number,
	"interval":         text,
	"zero_fill":        boolean,
	"max_age":          number,
	"include_metadata": boolean,
	"latest":           number,
	"property_names":   jsonOrText,
	"email":            text,
	"analyses":         jsonText,
	"steps":            jsonText,
}

// FromJSON reads the parameters of a JSON body (empty: none).
func FromJSON(body []byte) (Params, error) {
	p := Params{}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, invalid("The request body is not a JSON object of query parameters.")
	}
	return p, nil
}

// FromURL reads the parameters of a URL's query string (api_key, the
// credential, is not one). A parameter given twice is refused.
func FromURL(v url.Values) (Params, error) {
	p := Params{}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "api_key" {
			continue
		}
		vals := v[name]
		if len(vals) > 1 {
			return nil, invalid("%q is given %d times; give it once", name, len(vals))
		}
		p[name] = fromText(name, vals[0])
	}
	return p, nil
}

func fromText(name, s string) json.RawMessage {
	quoted := func() json.RawMessage { b, _ := json.Marshal(s); return b }
	t := strings.TrimSpace(s)
	switch params[name] {
	case number:
		if _, err := strconv.ParseFloat(t, 64); err == nil && json.Valid([]byte(t)) {
			return json.RawMessage(t)
		}
	case boolean:
		if t == "true" || t == "false" {
			return json.RawMessage(t)
		}
	case jsonText:
		if json.Valid([]byte(t)) {
			return json.RawMessage(t)
		}
	case jsonOrText:
		if t != "" && strings.ContainsRune(`{["`, rune(t[0])) && json.Valid([]byte(t)) {
			return json.RawMessage(t)
		}
		// An offset in seconds: timezone=-28800.
		if _, err := strconv.Atoi(t); err == nil && name == "timezone" {
			return json.RawMessage(t)
		}
	}
	return quoted()
}

// given reports whether a parameter is present and not null.
func (p Params) given(name string) bool { return !isNull(p[name]) }

// empty reports whether a parameter is absent, null, [] or {}.
func (p Params) empty(name string) bool {
	if !p.given(name) {
		return true
	}
	t := string(bytes.Join(bytes.Fields(p[name]), nil))
	return t == "[]" || t == "{}"
}

// str decodes a string parameter ("" when absent).
func (p Params) str(name string) (string, error) {
	if !p.given(name) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(p[name], &s); err != nil {
		return "", invalid("%q must be a string", name)
	}
	return s, nil
}

// boolean decodes a boolean parameter (false when absent).
func (p Params) boolean(name string) (bool, error) {
	if !p.given(name) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(p[name], &b); err != nil {
		return false, invalid("%q must be true or false", name)
	}
	return b, nil
}

// integer decodes a positive integer parameter (0 when absent).
func (p Params) integer(name string) (int, error) {
	if !p.given(name) {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(p[name])))
	if err != nil || n <= 0 {
		return 0, invalid("%q must be a positive integer", name)
	}
	return n, nil
}

func isNull(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) == 0 || string(t) == "null"
}
