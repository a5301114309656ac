package tenancy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var rawTopicRegex = regexp.MustCompile(RawTopicRegex)

// kafkaTopicName applies Kafka's own rule for topic names.
func kafkaTopicName(name string) error {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return fmt.Errorf("bad length or name")
	}
	for i := 0; i < len(name); i++ {
		if !topicChar(name[i]) {
			return fmt.Errorf("character %q", name[i])
		}
	}
	return nil
}

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

func TestCheckCollectionName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"purchases", true},
		{"$my collection$ %", true},
		{"User posts.new", true},
		{"a/b?c#d", true},
		{" ", true},
		{"~!@#$%^&*()+={}[]|\\:;\"'<>,", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{"my orders-dlq", false},
		{"tab\there", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"é", false},
	}
	for _, tc := range cases {
		err := CheckCollectionName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckCollectionName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "sluice.") {
			t.Errorf("error leaks a backend name: %v", err)
		}
		// Every valid Kafka collection topic is a valid collection name.
		if CheckCollectionTopic(tc.name) == nil && err != nil {
			t.Errorf("%q is a valid topic but not a valid collection name", tc.name)
		}
	}
}

func TestRawTopicForms(t *testing.T) {
	kid := KeyID(strings.Repeat("ab", 32))
	cases := []struct {
		keyID, collection, want string
	}{
		{"", "purchases", "sluice.in." + pid + ".purchases"},
		{"", "a.b.c", "sluice.in." + pid + ".a.b.c"},
		{"", strings.Repeat("z", 64), "sluice.in." + pid + "." + strings.Repeat("z", 64)},
		{kid, "purchases", "sluice.inak." + pid + "." + kid + ".purchases"},
		{kid, "x.y", "sluice.inak." + pid + "." + kid + ".x.y"},
		{"", "$my collection$ %", "sluice.inx." + pid + ".246d7920636f6c6c656374696f6e242025"},
		{kid, "$my collection$ %", "sluice.inakx." + pid + "." + kid + ".246d7920636f6c6c656374696f6e242025"},
		{"", "a b", "sluice.inx." + pid + ".612062"},
		{"", "x-dlq ", "sluice.inx." + pid + ".782d646c7120"},
		{"", strings.Repeat("~", 64), "sluice.inx." + pid + "." + strings.Repeat("7e", 64)},
		{kid, strings.Repeat("~", 64), "sluice.inakx." + pid + "." + kid + "." + strings.Repeat("7e", 64)},
	}
	for _, tc := range cases {
		topic := RawTopic(pid, tc.keyID, tc.collection)
		if topic != tc.want {
			t.Errorf("RawTopic(%q, %q) = %q, want %q", tc.keyID, tc.collection, topic, tc.want)
		}
		if len(topic) > 249 {
			t.Errorf("%s longer than Kafka allows", topic)
		}
		if kafkaTopicName(topic) != nil {
			t.Errorf("%q is not a valid Kafka topic name", topic)
		}
		if !rawTopicRegex.MatchString(topic) {
			t.Errorf("RawTopicRegex does not match %q", topic)
		}
		r, ok := ParseRawTopic(topic)
		if !ok || r.ProjectID != pid || r.KeyID != tc.keyID || r.Collection != tc.collection {
			t.Errorf("ParseRawTopic(%q) = %+v %v", topic, r, ok)
		}
	}
}

func TestParseRawTopicRejects(t *testing.T) {
	kid := "0123456789abcdef"
	for _, topic := range []string{
		"purchases",
		"sluice.in.",
		"sluice.in." + pid,
		"sluice.in." + pid + ".",
		"sluice.in.0123456789ABCDEF01234567.x",
		"sluice.in." + pid + "x.y",
		"sluice.in." + pid + ".bad name",
		"sluice.in." + pid + ".x-dlq",
		"sluice.inak." + pid + ".0123456789abcdef",
		"sluice.inak." + pid + ".0123456789abcdeg.x",
		"sluice.inx." + pid + ".",
		"sluice.inx." + pid + ".7",                            // odd length
		"sluice.inx." + pid + ".612G62",                       // not hex
		"sluice.inx." + pid + ".612A62",                       // uppercase: not the canonical form
		"sluice.inx." + pid + ".707572636861736573",           // "purchases": its raw topic is sluice.in.
		"sluice.inx." + pid + ".612d646c71",                   // "a-dlq"
		"sluice.inx." + pid + ".61096263",                     // a tab
		"sluice.inx." + pid + "." + strings.Repeat("7e", 65),  // 65 characters
		"sluice.inakx." + pid + "." + kid,                     // no name
		"sluice.inakx." + pid + ".0123456789abcdeg.612062",    // bad key id
		"sluice.inakx." + pid + "." + kid + ".70757263686173", // "purch": plain form exists
		"sluice.inx.0123456789abcdef0123456Z.612062",
		"sluice.out." + pid + ".x",
		"sluice.registry",
	} {
		if r, ok := ParseRawTopic(topic); ok {
			t.Errorf("ParseRawTopic(%q) accepted: %+v", topic, r)
		}
	}
}

func TestRawTopicRegexLeavesOthers(t *testing.T) {
	for _, topic := range []string{"sluice.registry", "sluice.out." + pid + ".x", "sluice." + pid + ".group", "purchases", "sluice.pipeline"} {
		if rawTopicRegex.MatchString(topic) {
			t.Errorf("RawTopicRegex matches %q", topic)
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

func TestParseBackendGroup(t *testing.T) {
	for _, tc := range []struct {
		backend, pid, group string
		ok                  bool
	}{
		{BackendGroup(pid, "my-group"), pid, "my-group", true},
		{BackendGroup(pid, "a.b.c"), pid, "a.b.c", true},
		{"sluice.pipeline", "", "", false},
		{"sluice." + strings.Repeat("g", 24) + ".x", "", "", false},
		{"other." + pid + ".x", "", "", false},
		{"sluice." + pid, "", "", false},
	} {
		p, g, ok := ParseBackendGroup(tc.backend)
		if p != tc.pid || g != tc.group || ok != tc.ok {
			t.Errorf("ParseBackendGroup(%q) = %q %q %v, want %q %q %v", tc.backend, p, g, ok, tc.pid, tc.group, tc.ok)
		}
	}
}
