package httpapi

import (
	"encoding/json"
	"testing"
)

func TestSubstitutePlaceholders(t *testing.T) {
	const ip, ua = "203.0.113.7", `Mozilla/5.0 "quoted" \ agent`
	cases := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{"ip":"${keen.ip}"}`, `{"ip":"203.0.113.7"}`},
		{`{"ua" : "${keen.user_agent}" , "n":2}`, `{"ua" : "Mozilla/5.0 \"quoted\" \\ agent" , "n":2}`},
		{`{"x":{"y":["${keen.ip}","${keen.ip}"]}}`, `{"x":{"y":["203.0.113.7","203.0.113.7"]}}`},
		{`{"keen":{"addons":[{"name":"keen:ua_parser","input":{"ua_string":"u"},"output":"o"}]},"u":"${keen.user_agent}"}`,
			`{"keen":{"addons":[{"name":"keen:ua_parser","input":{"ua_string":"u"},"output":"o"}]},"u":"Mozilla/5.0 \"quoted\" \\ agent"}`},
		// Not exactly the placeholder: left alone.
		{`{"ip":"${keen.ip} "}`, `{"ip":"${keen.ip} "}`},
		{`{"ip":"my ${keen.ip}"}`, `{"ip":"my ${keen.ip}"}`},
		{`{"ip":"\u0024{keen.ip}"}`, `{"ip":"\u0024{keen.ip}"}`},
		{`{"ip":"${keen.other}"}`, `{"ip":"${keen.other}"}`},
		// A property name is never replaced (and is invalid anyway).
		{`{"${keen.ip}" : "${keen.ip}"}`, `{"${keen.ip}" : "203.0.113.7"}`},
		// An escaped quote inside a string does not end it.
		{`{"s":"a\"${keen.ip}\"","t":"${keen.ip}"}`, `{"s":"a\"${keen.ip}\"","t":"203.0.113.7"}`},
		// Invalid JSON: nothing breaks.
		{`{"s":"${keen.ip}`, `{"s":"${keen.ip}`},
	}
	for _, tc := range cases {
		got := string(substitutePlaceholders([]byte(tc.in), ip, ua))
		if got != tc.want {
			t.Errorf("substitute(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
		if json.Valid([]byte(tc.in)) && !json.Valid([]byte(got)) {
			t.Errorf("substitute(%s) made invalid JSON %s", tc.in, got)
		}
	}
}
