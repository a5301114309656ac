package jsonedit

import "testing"

func TestWithoutMember(t *testing.T) {
	for _, tc := range []struct {
		doc, path, want string
		changed         bool
	}{
		{`{"a":1,"b":2}`, "a", `{"b":2}`, true},
		{`{"a":1,"b":2}`, "b", `{"a":1}`, true},
		{`{"a":1, "b" : {"c":[1,"}"],"d":"x"}}`, "b.c", `{"a":1,"b" : {"d":"x"}}`, true},
		{`{"a":1,"a":2,"b":3}`, "a", `{"b":3}`, true},
		{`{"a\u0062":1,"c":2}`, "ab", `{"c":2}`, true},
		{`{"a":{"b":1}}`, "a.b", `{"a":{}}`, true},
		{`{"a":[{"b":1}]}`, "a.b", `{"a":[{"b":1}]}`, false},
		{`{"a":1}`, "z", `{"a":1}`, false},
		{` { "a" : 1 , "b" : 2 } `, "a", ` {"b" : 2 } `, true},
	} {
		got, changed, err := WithoutMember([]byte(tc.doc), splitDots(tc.path))
		if err != nil || string(got) != tc.want || changed != tc.changed {
			t.Errorf("WithoutMember(%s, %s) = %s, %v, %v; want %s, %v", tc.doc, tc.path, got, changed, err, tc.want, tc.changed)
		}
	}
	for _, c := range []struct {
		doc, want string
		path      []string
	}{
		{`{"a":1}`, `{}`, []string{"a"}},
		{`{"a":1,"b":{"c":[1,{"d":"}"}],"d":"x"},"e":"\"b\""}`, `{"a":1,"b":{"c":[1,{"d":"}"}]},"e":"\"b\""}`, []string{"b", "d"}},
		{`{"a":1,"b":{"c":2}}`, `{"a":1}`, []string{"b"}},
		{`{"\u0061":1,"b":3}`, `{"b":3}`, []string{"a"}},           // names compare decoded
		{`{"a":"x","b":2}`, `{"a":"x","b":2}`, []string{"a", "c"}}, // through a non-object: unchanged
		{`{"a":{"c":1},"b":2}`, `{"a":{"c":1},"b":2}`, []string{"x"}},
		{` { "a" : 1 , "b" : [ 1 ] } `, ` {"b" : [ 1 ] } `, []string{"a"}},
	} {
		got, changed, err := WithoutMember([]byte(c.doc), c.path)
		if err != nil || string(got) != c.want || changed != (c.doc != c.want) {
			t.Errorf("%s without %v: %s (changed %v, %v), want %s", c.doc, c.path, got, changed, err, c.want)
		}
	}
	for _, bad := range []string{`{"a":1`, `{"a"}`, `{"a":"x}`, `{"a":}`} {
		if _, _, err := WithoutMember([]byte(bad), []string{"z"}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
