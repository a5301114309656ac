package event

// keen:date_time_parser — input "date_time" (commonly keen.timestamp);
// output, the 11 properties of docs/contract.md §7, all numbers but one:
//
//	millisecond, second, minute, hour (0–23), day_of_month, month, year,
//	day_of_week (ISO 8601: Monday = 1 … Sunday = 7),
//	day_of_week_string ("Monday" … "Sunday"),
//	week (ISO 8601 week number, 1–53),
//	timezone_offset
//
// Every field is read in UTC, as Keen describes hour. timezone_offset is the
// offset the input was written in, in hours east of UTC (0 for "Z" or no
// zone, 2 for "+02:00", -3.5 for "-03:30"); keen.timestamp is always stored
// in UTC, so it gives 0. Keen documents neither the weekday numbering nor the
// offset's unit; these are the ISO choices. The input is read like
// keen.timestamp (timestamp.go); one that is not such a string gives all 11
// fields null.
func enrichDateTime(ws *workspace, v *value) value {
	s, ok := v.str()
	t, offset, ok2 := parseISO8601(s)
	if !ok || !ok2 {
		var blank [len(dateTimeFields)]member
		for i, f := range dateTimeFields {
			blank[i] = field(f, nullValue)
		}
		return ws.object(blank[:]...)
	}
	_, week := t.ISOWeek()
	dow := int(t.Weekday())
	if dow == 0 {
		dow = 7
	}
	return ws.object(
		field("millisecond", ws.int(int64(t.Nanosecond()/1e6))),
		field("second", ws.int(int64(t.Second()))),
		field("minute", ws.int(int64(t.Minute()))),
		field("hour", ws.int(int64(t.Hour()))),
		field("day_of_week", ws.int(int64(dow))),
		field("day_of_week_string", ws.str(t.Weekday().String())),
		field("day_of_month", ws.int(int64(t.Day()))),
		field("week", ws.int(int64(week))),
		field("month", ws.int(int64(t.Month()))),
		field("year", ws.int(int64(t.Year()))),
		field("timezone_offset", ws.float(float64(offset)/3600)),
	)
}

var dateTimeFields = [...]string{"millisecond", "second", "minute", "hour", "day_of_week", "day_of_week_string",
	"day_of_month", "week", "month", "year", "timezone_offset"}
