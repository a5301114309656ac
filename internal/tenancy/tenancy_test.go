package tenancy

import (
	"strings"
	"testing"
)

const pid = "0123456789abcdef01234567"

func TestCheckCollectionTopic(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"purchases", true},
		{"Target-collection-name", true},
		{"a.b_c-D9", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{"orders-dlq", false},
		{"orders-dlq2", true},
		{"my collection", false},
		{"$x", false},
		{"a/b", false},
		{"é", false},
		{"a\x00", false},
	}
	for _, tc := range cases {
		err := CheckCollectionTopic(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckCollectionTopic(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "sluice.") {
			t.Errorf("error leaks a backend name: %v", err)
		}
	}
}

func TestRawTopicRoundTrip(t *testing.T) {
	kid := KeyID(strings.Repeat("ab", 32))
	cases := []struct {
		keyID, collection string
	}{
		{"", "purchases"},
		{"", "a.b.c"},
		{kid, "purchases"},
		{kid, "x.y"},
		{"", strings.Repeat("z", 64)},
	}
	for _, tc := range cases {
		topic := RawTopic(pid, tc.keyID, tc.collection)
		if len(topic) > 249 {
			t.Errorf("%s longer than Kafka allows", topic)
		}
		r, ok := ParseRawTopic(topic)
		if !ok || r.ProjectID != pid || r.KeyID != tc.keyID || r.Collection != tc.collection {
			t.Errorf("ParseRawTopic(%q) = %+v %v", topic, r, ok)
		}
	}
}

func TestParseRawTopicRejects(t *testing.T) {
	for _, topic := range []string{
		"purchases",
		"sluice.in.",
		"sluice.in." + pid,
		"sluice.in." + pid + ".",
		"sluice.in.0123456789ABCDEF01234567.x",
		"sluice.in." + pid + "x.y",
		"sluice.in." + pid + ".bad name",
		"sluice.inak." + pid + ".0123456789abcdef",
		"sluice.inak." + pid + ".0123456789abcdeg.x",
		"sluice.out." + pid + ".x",
		"sluice.registry",
	} {
		if r, ok := ParseRawTopic(topic); ok {
			t.Errorf("ParseRawTopic(%q) accepted: %+v", topic, r)
		}
	}
}

func TestOutboundNames(t *testing.T) {
	cases := map[string]string{
		"$my collection$ %": "_my_collection___",
		"purchases":         "purchases",
		"a.b-c_d":           "a.b-c_d",
		"ümlaut":            "__mlaut",
	}
	for in, want := range cases {
		if got := OutboundTopicName(in); got != want {
			t.Errorf("OutboundTopicName(%q) = %q, want %q", in, got, want)
		}
	}
	if DLQTopicName("purchases") != "purchases-dlq" {
		t.Error("DLQ name")
	}
	b := BackendOutboundTopic(pid, "purchases-dlq")
	if got, ok := ClientOutboundTopic(pid, b); !ok || got != "purchases-dlq" {
		t.Errorf("ClientOutboundTopic = %q %v", got, ok)
	}
	if _, ok := ClientOutboundTopic("ffffffffffffffffffffffff", b); ok {
		t.Error("another project's outbound topic mapped back")
	}
}

func TestGroups(t *testing.T) {
	b := BackendGroup(pid, "my-group")
	if g, ok := ClientGroup(pid, b); !ok || g != "my-group" {
		t.Errorf("ClientGroup = %q %v", g, ok)
	}
	if _, ok := ClientGroup("ffffffffffffffffffffffff", b); ok {
		t.Error("another project's group mapped back")
	}
	if BackendGroup(pid, "") == BackendGroup("ffffffffffffffffffffffff", "") {
		t.Error("empty groups of two projects collide")
	}
}

func TestKeyIDAndProjectID(t *testing.T) {
	a, b := KeyID(strings.Repeat("a", 64)), KeyID(strings.Repeat("b", 64))
	if len(a) != 16 || a == b || !isHex(a) {
		t.Errorf("KeyID = %q, %q", a, b)
	}
	for _, p := range []string{"", "abc", strings.ToUpper(pid), pid + "0", "zz3456789abcdef012345678"} {
		if CheckProjectID(p) == nil {
			t.Errorf("CheckProjectID(%q) accepted", p)
		}
	}
	if CheckProjectID(pid) != nil {
		t.Error("valid id refused")
	}
}

func TestCheckOutboundTopic(t *testing.T) {
	cases := map[string]bool{
		"purchases": true, "purchases-dlq": true, "_my_collection___": true, strings.Repeat("x", 64) + "-dlq": true,
		strings.Repeat("x", 65): false, "": false, "-dlq": false, "a b": false, "..": false, "$x": false,
	}
	for name, ok := range cases {
		if err := CheckOutboundTopic(name); (err == nil) != ok {
			t.Errorf("CheckOutboundTopic(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
