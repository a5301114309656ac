package event

import (
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTimestampFallback(t *testing.T) {
	p := newTestProcessor(t, nil)

	// No keen.timestamp: the record's time, cut to milliseconds.
	ev, m := mustProcess(t, p, testInput(`{"a":1}`))
	checkFields(t, m, map[string]string{
		"keen.timestamp":  `"2024-05-06T07:08:09.123Z"`,
		"keen.created_at": `"2024-05-06T07:08:10.987Z"`,
		"keen.id":         `"` + testID + `"`,
	})
	if want := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC); !ev.Timestamp.Equal(want) || ev.Timestamp.Location() != time.UTC {
		t.Errorf("Event.Timestamp = %v, want %v", ev.Timestamp, want)
	}
	if want := time.Date(2024, 5, 6, 7, 8, 10, 987_000_000, time.UTC); !ev.CreatedAt.Equal(want) {
		t.Errorf("Event.CreatedAt = %v, want %v", ev.CreatedAt, want)
	}
	if ev.ID != testID || ev.UniquenessToken != "" {
		t.Errorf("Event = %+v", ev)
	}

	// An empty keen object changes nothing.
	_, m = mustProcess(t, p, testInput(`{"keen":{}}`))
	checkFields(t, m, map[string]string{"keen.timestamp": `"2024-05-06T07:08:09.123Z"`})

	// A record time in another zone is stored in UTC.
	in := testInput(`{}`)
	in.RecordTime = time.Date(2024, 5, 6, 9, 8, 9, 5_999_999, time.FixedZone("CEST", 2*3600))
	_, m = mustProcess(t, p, in)
	checkFields(t, m, map[string]string{"keen.timestamp": `"2024-05-06T07:08:09.005Z"`})

	// No record time (an old record format): the processing time.
	in = testInput(`{}`)
	in.RecordTime = time.Time{}
	_, m = mustProcess(t, p, in)
	checkFields(t, m, map[string]string{"keen.timestamp": `"2024-05-06T07:08:10.987Z"`})

	// The client's timestamp wins over the record's.
	ev, m = mustProcess(t, p, testInput(`{"keen":{"timestamp":"2012-12-14T20:24:01.123Z"}}`))
	checkFields(t, m, map[string]string{"keen.timestamp": `"2012-12-14T20:24:01.123Z"`})
	if !ev.Timestamp.Equal(time.Date(2012, 12, 14, 20, 24, 1, 123e6, time.UTC)) {
		t.Errorf("Event.Timestamp = %v", ev.Timestamp)
	}
}

func TestTimestampNormalization(t *testing.T) {
	p := newTestProcessor(t, nil)
	for in, want := range map[string]string{
		"2014-04-25T20:38:04.084Z":            "2014-04-25T20:38:04.084Z",
		"2014-04-25T20:38:04Z":                "2014-04-25T20:38:04.000Z",
		"2014-04-25T20:38:04":                 "2014-04-25T20:38:04.000Z", // no zone = UTC
		"2014-04-25T20:38:04.084":             "2014-04-25T20:38:04.084Z",
		"2014-04-25T20:38":                    "2014-04-25T20:38:00.000Z",
		"2014-04-25":                          "2014-04-25T00:00:00.000Z",
		"2014-04-25T20:38:04.1Z":              "2014-04-25T20:38:04.100Z",
		"2014-04-25T20:38:04.123456Z":         "2014-04-25T20:38:04.123Z",
		"2014-04-25T20:38:04.123999999999Z":   "2014-04-25T20:38:04.123Z", // cut, not rounded
		"2012-12-14T20:24:01.123000+00:00":    "2012-12-14T20:24:01.123Z", // Keen's historical form
		"2014-04-25T22:38:04.084+02:00":       "2014-04-25T20:38:04.084Z",
		"2014-04-25T15:08:04.084-05:30":       "2014-04-25T20:38:04.084Z",
		"2014-04-25T22:38:04.084+0200":        "2014-04-25T20:38:04.084Z",
		"2014-04-25T22:38:04+02":              "2014-04-25T20:38:04.000Z",
		"2014-04-26T01:38:04.084+05:00":       "2014-04-25T20:38:04.084Z", // day changes
		"2014-04-25 20:38:04.084Z":            "2014-04-25T20:38:04.084Z",
		"2014-04-25t20:38:04,084z":            "2014-04-25T20:38:04.084Z",
		"2016-02-29T23:59:59.999-01:00":       "2016-03-01T00:59:59.999Z",
		"0001-01-01T00:00:00Z":                "0001-01-01T00:00:00.000Z",
		"9999-12-31T23:59:59.999999999+00:00": "9999-12-31T23:59:59.999Z",
	} {
		ev, m := mustProcess(t, p, testInput(`{"keen":{"timestamp":"`+in+`"}}`))
		checkFields(t, m, map[string]string{"keen.timestamp": `"` + want + `"`})
		if got := ev.Timestamp.Format(keenTimeLayout); got != want {
			t.Errorf("%s: Event.Timestamp %s, want %s", in, got, want)
		}
	}
}

func TestInvalidTimestamps(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, ts := range []string{
		`"yesterday"`, `""`, `"2014-13-01T00:00:00Z"`, `"2014-02-30T00:00:00Z"`, `"2015-02-29"`,
		`"2014-04-25T24:00:00Z"`, `"2014-04-25T20:60:00Z"`, `"2014-04-25T20:38:60Z"`, `"2014-04-25T20:38:04.Z"`,
		`"2014-04-25T20:38:04+2"`, `"2014-04-25T20:38:04+02:0"`, `"2014-04-25T20:38:04+24:00"`, `"2014-04-25Z"`,
		`"14-04-25"`, `"2014/04/25"`, `"2014-04-25T20:38:04Z trailing"`, `"1398458284"`, `"Fri, 25 Apr 2014 20:38:04 GMT"`,
	} {
		mustRefuse(t, p, testInput(`{"keen":{"timestamp":`+ts+`}}`), ErrInvalidPropertyValue, "keen.timestamp", "ISO-8601")
	}
	for _, ts := range []string{`1398458284`, `null`, `{}`, `true`} {
		mustRefuse(t, p, testInput(`{"keen":{"timestamp":`+ts+`}}`), ErrInvalidPropertyValue, "keen.timestamp must be an ISO-8601 string")
	}
}

func TestKeenIDAndCreatedAtAreOverwritten(t *testing.T) {
	p := newTestProcessor(t, nil)
	ev, m := mustProcess(t, p, testInput(`{"keen":{"id":"535ac7ac00111c5ec8be42e6","created_at":"2000-01-01T00:00:00.000Z","timestamp":"2014-04-25T20:38:04.084Z"},"x":1}`))
	checkFields(t, m, map[string]string{
		"keen.id":         `"` + testID + `"`,
		"keen.created_at": `"2024-05-06T07:08:10.987Z"`,
		"keen.timestamp":  `"2014-04-25T20:38:04.084Z"`,
	})
	if strings.Count(string(ev.JSON), `"id"`) != 1 || strings.Count(string(ev.JSON), `"created_at"`) != 1 {
		t.Errorf("stored %s", ev.JSON)
	}
	// Whatever their type.
	mustProcess(t, p, testInput(`{"keen":{"id":42,"created_at":{"a":[{"b":1}]}}}`))
}

func TestKeenNamespace(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, c := range []struct{ payload, err, want string }{
		{`{"keen":"x"}`, ErrNamespaceType, `"keen" must be an object, not a string`},
		{`{"keen":[1]}`, ErrNamespaceType, "not an array"},
		{`{"keen":null}`, ErrNamespaceType, "not null"},
		{`{"keen":{"foo":1}}`, ErrInvalidKeenNamespace, "keen.foo is not allowed"},
		{`{"keen":{"timestamp":"2014-04-25","project_id":"x"}}`, ErrInvalidKeenNamespace, "keen.project_id"},
		{`{"keen":{"location":"here"}}`, ErrInvalidPropertyValue, "keen.location must be an object"},
		{`{"keen":{"location":{"coordinates":[1]}}}`, ErrInvalidPropertyValue, "keen.location.coordinates must be [longitude, latitude]"},
		{`{"keen":{"location":{"coordinates":[1,2,3]}}}`, ErrInvalidPropertyValue, "two numbers"},
		{`{"keen":{"location":{"coordinates":["1","2"]}}}`, ErrInvalidPropertyValue, "two numbers"},
		{`{"keen":{"location":{"coordinates":{"lat":1,"lon":2}}}}`, ErrInvalidPropertyValue, "two numbers"},
		{`{"keen":{"location":{"coordinates":[-181,0]}}}`, ErrInvalidPropertyValue, "out of range"},
		{`{"keen":{"location":{"coordinates":[0,90.5]}}}`, ErrInvalidPropertyValue, "[0, 90.5] is out of range"},
		{`{"keen":{"location":{"coordinates":[1,2],"city":"x"}}}`, ErrInvalidKeenNamespace, "keen.location.city is not allowed"},
		{`{"keen":{"uniqueness_token":7}}`, ErrInvalidPropertyValue, "keen.uniqueness_token must be a string, not a number"},
		{`{"keen":{"uniqueness_token":""}}`, ErrInvalidPropertyValue, "keen.uniqueness_token is 0 characters long"},
		{`{"keen":{"uniqueness_token":"` + strings.Repeat("t", 65) + `"}}`, ErrInvalidPropertyValue, "65 characters long; it must have 1 to 64"},
	} {
		mustRefuse(t, p, testInput(c.payload), c.err, c.want)
	}

	// Keen's own names are not checked inside keen; keen.location takes part
	// in the usual rules only through its own.
	_, m := mustProcess(t, p, testInput(`{"keen":{"location":{"coordinates":[-122.42005,37.77479]}}}`))
	checkFields(t, m, map[string]string{"keen.location": `{"coordinates":[-122.42005,37.77479]}`})
	_, m = mustProcess(t, p, testInput(`{"keen":{"location":{}}}`))
	checkFields(t, m, map[string]string{"keen.location": `{}`})

	// A nested "keen" is an ordinary property.
	_, m = mustProcess(t, p, testInput(`{"a":{"keen":{"anything":1}}}`))
	checkFields(t, m, map[string]string{"a.keen.anything": `1`})
}

func TestUniquenessToken(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, token := range []string{"a", "order-42", strings.Repeat("t", 64), strings.Repeat("é", 64), "with \"quotes\""} {
		ev, m := mustProcess(t, p, testInput(`{"keen":{"uniqueness_token":`+jsonOf(token)+`}}`))
		if ev.UniquenessToken != token {
			t.Errorf("UniquenessToken = %q, want %q", ev.UniquenessToken, token)
		}
		checkFields(t, m, map[string]string{"keen.uniqueness_token": jsonOf(token)})
	}
}

func TestAddonsAreLeftOut(t *testing.T) {
	p := newTestProcessor(t, nil)
	ev, m := mustProcess(t, p, testInput(`{"u":"http://a.com/x","keen":{"addons":[{"name":"keen:url_parser","input":{"url":"u"},"output":"p"}]}}`))
	if strings.Contains(string(ev.JSON), "addons") {
		t.Errorf("keen.addons stored: %s", ev.JSON)
	}
	checkFields(t, m, map[string]string{"p.domain": `"a.com"`})
	mustProcess(t, p, testInput(`{"keen":{"addons":[]}}`))
}

func TestID(t *testing.T) {
	id := ID("sluice.in.p.purchases", 0, 0)
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Fatalf("ID = %q, want 24 lowercase hex characters", id)
	}
	if ID("sluice.in.p.purchases", 0, 0) != id {
		t.Error("ID is not deterministic")
	}
	seen := map[string]string{}
	for _, c := range []struct {
		topic string
		part  int32
		off   int64
	}{
		{"sluice.in.p.purchases", 0, 0}, {"sluice.in.p.purchases", 0, 1}, {"sluice.in.p.purchases", 1, 0},
		{"sluice.in.p.purchase", 0, 0}, {"sluice.in.q.purchases", 0, 0}, {"", 0, 0}, {"a", 1, 2}, {"a", 2, 1},
		{"sluice.in.p.purchases", -1, -1}, {"x", 0, 1 << 40},
	} {
		id := ID(c.topic, c.part, c.off)
		key := c.topic + "/" + itoa(int(c.part)+1) + "/" + itoa(int(c.off+1))
		if prev, ok := seen[id]; ok {
			t.Errorf("ID collision between %s and %s", prev, key)
		}
		seen[id] = key
	}
}

func TestReprocessingIsDeterministic(t *testing.T) {
	geo := openTestGeo(t)
	p := newTestProcessor(t, geo)
	in := Input{Payload: event1KB(true), RecordTime: testRecordTime, ID: ID("t", 1, 2), CreatedAt: testCreatedAt,
		Autofill: map[string]any{"tenant": map[string]any{"id": 7.0, "name": "A", "tier": "gold", "z": true, "a": nil}}}
	first, err := p.Process(in)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := p.Process(in)
		if err != nil {
			t.Fatal(err)
		}
		if string(again.JSON) != string(first.JSON) || again.ID != first.ID {
			t.Fatalf("re-processing differs:\n%s\n%s", first.JSON, again.JSON)
		}
	}
}

// TestConcurrentProcess runs many events at once (with -race it checks the
// pooled workspaces): each result must be the one its input gives alone.
func TestConcurrentProcess(t *testing.T) {
	geo := openTestGeo(t)
	p := newTestProcessor(t, geo)
	inputs := []Input{
		{Payload: event1KB(true)}, {Payload: event1KB(false)},
		{Payload: []byte(`{"a":{"b":[1,2,3]},"keen":{"uniqueness_token":"u1"}}`)},
		{Payload: []byte(`{"ip":"216.160.83.57","keen":{"addons":[{"name":"keen:ip_to_geo","input":{"ip":"ip","remove_ip_property":true},"output":"g"}]}}`)},
	}
	want := make([]string, len(inputs))
	for i := range inputs {
		inputs[i].ID, inputs[i].RecordTime, inputs[i].CreatedAt = ID("t", 0, int64(i)), testRecordTime, testCreatedAt
		ev, err := p.Process(inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = string(ev.JSON)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				i := (g + n) % len(inputs)
				ev, err := p.Process(inputs[i])
				if err != nil {
					t.Error(err)
					return
				}
				if string(ev.JSON) != want[i] {
					t.Errorf("input %d gave\n%s\nwant\n%s", i, ev.JSON, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestMissingID(t *testing.T) {
	p := newTestProcessor(t, nil)
	in := testInput(`{}`)
	in.ID = ""
	if _, err := p.Process(in); err == nil {
		t.Error("no error without an ID")
	}
}
