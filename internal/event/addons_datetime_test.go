package event

import "testing"

func dateTimeOutput(t *testing.T, p *Processor, in string) any {
	t.Helper()
	_, m := mustProcess(t, p, testInput(withAddons(`"when":`+in, `{"name":"keen:date_time_parser","input":{"date_time":"when"},"output":"dt"}`)))
	return m["dt"]
}

func TestDateTimeParser(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, c := range []struct{ in, want string }{
		// Saturday 2014-04-26, ISO week 17.
		{`"2014-04-26T20:38:04.084Z"`, `{"millisecond":84,"second":4,"minute":38,"hour":20,"day_of_week":6,"day_of_week_string":"Saturday",` +
			`"day_of_month":26,"week":17,"month":4,"year":2014,"timezone_offset":0}`},
		// Fields are UTC; the offset is reported in hours.
		{`"2014-04-27T01:08:04.5+05:30"`, `{"millisecond":500,"second":4,"minute":38,"hour":19,"day_of_week":6,"day_of_week_string":"Saturday",` +
			`"day_of_month":26,"week":17,"month":4,"year":2014,"timezone_offset":5.5}`},
		{`"2014-04-26T18:00:00-02:00"`, `{"millisecond":0,"second":0,"minute":0,"hour":20,"day_of_week":6,"day_of_week_string":"Saturday",` +
			`"day_of_month":26,"week":17,"month":4,"year":2014,"timezone_offset":-2}`},
		// Sunday is 7; 2021-01-03 belongs to ISO week 53 of 2020.
		{`"2021-01-03"`, `{"millisecond":0,"second":0,"minute":0,"hour":0,"day_of_week":7,"day_of_week_string":"Sunday",` +
			`"day_of_month":3,"week":53,"month":1,"year":2021,"timezone_offset":0}`},
		// Monday 2024-12-30 is in week 1 of 2025.
		{`"2024-12-30T23:59:59.999"`, `{"millisecond":999,"second":59,"minute":59,"hour":23,"day_of_week":1,"day_of_week_string":"Monday",` +
			`"day_of_month":30,"week":1,"month":12,"year":2024,"timezone_offset":0}`},
	} {
		equalJSON(t, dateTimeOutput(t, p, c.in), c.want)
	}
	blank := `{"millisecond":null,"second":null,"minute":null,"hour":null,"day_of_week":null,"day_of_week_string":null,` +
		`"day_of_month":null,"week":null,"month":null,"year":null,"timezone_offset":null}`
	for _, in := range []string{`"yesterday"`, `""`, `1398458284`, `true`, `{"t":1}`} {
		equalJSON(t, dateTimeOutput(t, p, in), blank)
	}
}

func TestDateTimeParserOnKeenTimestamp(t *testing.T) {
	p := newTestProcessor(t, nil)
	// Offsets are normalized away in keen.timestamp, so its offset is 0.
	_, m := mustProcess(t, p, testInput(`{"keen":{"timestamp":"2014-04-26T22:38:04.084+02:00","addons":[`+
		`{"name":"keen:date_time_parser","input":{"date_time":"keen.timestamp"},"output":"dt"}]}}`))
	checkFields(t, m, map[string]string{"dt.hour": `20`, "dt.timezone_offset": `0`, "dt.day_of_week_string": `"Saturday"`})
	// Without a client timestamp it reads the record's time.
	_, m = mustProcess(t, p, testInput(withAddons("", `{"name":"keen:date_time_parser","input":{"date_time":"keen.timestamp"},"output":"dt"}`)))
	checkFields(t, m, map[string]string{"dt.year": `2024`, "dt.month": `5`, "dt.day_of_month": `6`, "dt.millisecond": `123`, "dt.day_of_week": `1`})
}
