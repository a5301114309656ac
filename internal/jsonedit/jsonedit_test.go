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
	if _, _, err := WithoutMember([]byte(`{"a":1`), []string{"a"}); err == nil {
		t.Error("an unclosed object: no error")
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
