package event

import "strconv"

// Constructors for the values sluice writes into an event (the keen object,
// add-on output). They take their memory from the workspace, so enriching an
// event allocates little: the text goes to ws.text, the members to the slab.

func (ws *workspace) str(s string) value {
	start := len(ws.text)
	ws.text = appendString(ws.text, s)
	return value{kind: kindString, raw: ws.text[start:len(ws.text):len(ws.text)]}
}

// raw is a value whose JSON text is text.
func (ws *workspace) raw(k kind, text string) value {
	start := len(ws.text)
	ws.text = append(ws.text, text...)
	return value{kind: k, raw: ws.text[start:len(ws.text):len(ws.text)]}
}

// strOrNull is null for "" (a part the source did not have).
func (ws *workspace) strOrNull(s string) value {
	if s == "" {
		return nullValue
	}
	return ws.str(s)
}

func (ws *workspace) int(n int64) value {
	start := len(ws.text)
	ws.text = strconv.AppendInt(ws.text, n, 10)
	return value{kind: kindNumber, raw: ws.text[start:len(ws.text):len(ws.text)]}
}

func (ws *workspace) float(f float64) value {
	start := len(ws.text)
	ws.text = strconv.AppendFloat(ws.text, f, 'f', -1, 64)
	return value{kind: kindNumber, raw: ws.text[start:len(ws.text):len(ws.text)]}
}

func (ws *workspace) object(fields ...member) value {
	return value{kind: kindObject, members: ws.keep(fields)}
}

func (ws *workspace) array(elems ...value) value {
	base := len(ws.stack)
	for _, e := range elems {
		ws.stack = append(ws.stack, member{val: e})
	}
	return value{kind: kindArray, members: ws.pop(base)}
}

// field is one member of an output object. The names sluice writes are
// interned, so naming a field costs nothing.
func field(name string, v value) member {
	if n, ok := fieldNames[name]; ok {
		return member{name: n[0], quoted: n[1], val: v}
	}
	return newMember(name, v)
}

var fieldNames = func() map[string][2][]byte {
	m := map[string][2][]byte{}
	for _, n := range []string{
		// keen:ip_to_geo
		"city", "province", "country", "country_code", "continent", "postal_code", "coordinates",
		// keen:ua_parser
		"device", "browser", "os", "family", "type", "major", "minor", "patch", "patch_minor",
		// keen:url_parser
		"protocol", "domain", "path", "anchor", "query_string",
		// keen:referrer_parser
		"medium", "source", "term",
		// keen:date_time_parser
		"millisecond", "second", "minute", "hour", "day_of_week", "day_of_week_string",
		"day_of_month", "week", "month", "year", "timezone_offset",
	} {
		m[n] = [2][]byte{[]byte(n), appendString(nil, n)}
	}
	return m
}()
