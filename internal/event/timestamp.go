package event

import "time"

// Keen stores keen.timestamp and keen.created_at in UTC with milliseconds and
// "Z" (2014-04-25T20:38:04.084Z, docs/contract.md §7).
const keenTimeLayout = "2006-01-02T15:04:05.000Z"

// normalizeTime is the instant as Keen keeps it: UTC, cut to milliseconds
// (cut, not rounded, so the stored time never moves into the next
// millisecond, second or day).
func normalizeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func appendKeenTime(b []byte, t time.Time) []byte {
	ms := t.UnixMilli() // cut to the millisecond, as normalizeTime does
	days, msOfDay := floorDiv(ms, 86_400_000)
	year, month, day := civilDate(days)
	if year < 0 || year > 9999 {
		return normalizeTime(t).AppendFormat(b, keenTimeLayout)
	}
	// By hand, from the Unix time: this runs twice per event, and
	// AppendFormat (or even Date and Clock, which each convert the time
	// again) costs several times more.
	secs, milli := msOfDay/1000, msOfDay%1000
	b = appendDigits(b, int(year), 4)
	b = appendDigits(append(b, '-'), month, 2)
	b = appendDigits(append(b, '-'), day, 2)
	b = appendDigits(append(b, 'T'), int(secs/3600), 2)
	b = appendDigits(append(b, ':'), int(secs/60%60), 2)
	b = appendDigits(append(b, ':'), int(secs%60), 2)
	b = appendDigits(append(b, '.'), int(milli), 3)
	return append(b, 'Z')
}

func appendDigits(b []byte, v, width int) []byte {
	if width == 4 {
		return append(b, twoDigits[2*(v/100)], twoDigits[2*(v/100)+1], twoDigits[2*(v%100)], twoDigits[2*(v%100)+1])
	}
	if width == 3 {
		return append(b, byte('0'+v/100), twoDigits[2*(v%100)], twoDigits[2*(v%100)+1])
	}
	return append(b, twoDigits[2*v], twoDigits[2*v+1])
}

// twoDigits holds "00" to "99".
const twoDigits = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" + "40414243444546474849" +
	"50515253545556575859" + "60616263646566676869" + "70717273747576777879" + "80818283848586878889" + "90919293949596979899"

// floorDiv is a/b rounded down, and the remainder that goes with it (≥ 0).
func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q, r = q-1, r+b
	}
	return q, r
}

// civilDate is the proleptic Gregorian date of the day days after
// 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
func civilDate(days int64) (year int64, month, day int) {
	z := days + 719_468 // days since 0000-03-01
	era, doe := floorDiv(z, 146_097)
	yoe := (doe - doe/1460 + doe/36_524 - doe/146_096) / 365 // year of the 400-year era
	doy := doe - (365*yoe + yoe/4 - yoe/100)                 // day of the year, from March 1
	mp := (5*doy + 2) / 153                                  // month, from March = 0
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// parseISO8601 reads the ISO-8601 date-times clients send:
//
//	2014-04-25                      midnight UTC
//	2014-04-25T20:38                seconds optional
//	2014-04-25T20:38:04             no zone = UTC (Keen's rule)
//	2014-04-25T20:38:04.084123456Z  any number of fractional digits ("." or ",")
//	2014-04-25 20:38:04+02:00       "T", "t" or a space between date and time
//	…+02, …+0200, …-05:30, …z       offsets with or without the colon
//
// offset is the zone's offset east of UTC in seconds (0 when none was given).
// Leap seconds (:60) and out-of-range fields are refused.
func parseISO8601(s string) (t time.Time, offset int, ok bool) {
	p := isoReader{s: s}
	year, ok1 := p.digits(4)
	ok2 := p.byte('-')
	month, ok3 := p.digits(2)
	ok4 := p.byte('-')
	day, ok5 := p.digits(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, 0, false
	}
	var hour, minute, second, nanos int
	if !p.done() {
		if c := s[p.i]; c != 'T' && c != 't' && c != ' ' {
			return time.Time{}, 0, false
		}
		p.i++
		var okH, okC, okM bool
		hour, okH = p.digits(2)
		okC = p.byte(':')
		minute, okM = p.digits(2)
		if !(okH && okC && okM) || hour > 23 || minute > 59 {
			return time.Time{}, 0, false
		}
		if p.peek(':') {
			p.i++
			var okS bool
			if second, okS = p.digits(2); !okS || second > 59 {
				return time.Time{}, 0, false
			}
			if p.peek('.') || p.peek(',') {
				p.i++
				var okF bool
				if nanos, okF = p.fraction(); !okF {
					return time.Time{}, 0, false
				}
			}
		}
		if offset, ok = p.zone(); !ok {
			return time.Time{}, 0, false
		}
	}
	if !p.done() {
		return time.Time{}, 0, false
	}
	zone := time.UTC
	if offset != 0 {
		zone = time.FixedZone("", offset)
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, nanos, zone).UTC(), offset, true
}

type isoReader struct {
	s string
	i int
}

func (r *isoReader) done() bool       { return r.i == len(r.s) }
func (r *isoReader) peek(c byte) bool { return r.i < len(r.s) && r.s[r.i] == c }

// byte consumes c if it is next.
func (r *isoReader) byte(c byte) bool {
	if r.peek(c) {
		r.i++
		return true
	}
	return false
}

func (r *isoReader) digits(n int) (int, bool) {
	if r.i+n > len(r.s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(r.s[r.i : r.i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	r.i += n
	return v, true
}

// fraction reads one or more digits as nanoseconds; digits past the ninth
// are read and dropped.
func (r *isoReader) fraction() (int, bool) {
	start, nanos, scale := r.i, 0, 100_000_000
	for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
		nanos += int(r.s[r.i]-'0') * scale
		scale /= 10
		r.i++
	}
	return nanos, r.i > start
}

func (r *isoReader) zone() (int, bool) {
	if r.done() {
		return 0, true
	}
	switch r.s[r.i] {
	case 'Z', 'z':
		r.i++
		return 0, true
	case '+', '-':
	default:
		return 0, false
	}
	sign := 1
	if r.s[r.i] == '-' {
		sign = -1
	}
	r.i++
	h, ok := r.digits(2)
	if !ok || h > 23 {
		return 0, false
	}
	m := 0
	if !r.done() {
		r.byte(':')
		if m, ok = r.digits(2); !ok || m > 59 {
			return 0, false
		}
	}
	return sign * (h*3600 + m*60), true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
