package soql

import (
	"strings"
	"time"
)

// secondsPerDay converts between Unix seconds and day numbers.
const secondsPerDay = 24 * 60 * 60

// parseDay parses "YYYY-MM-DD" into days since 1970-01-01, rejecting
// impossible dates such as 2024-02-30.
func parseDay(s string) (int64, bool) {
	if len(s) != 10 || !isDigits(s[0:4]) || s[4] != '-' || !isDigits(s[5:7]) || s[7] != '-' || !isDigits(s[8:10]) {
		return 0, false
	}
	y, m, d := atoi(s[0:4]), atoi(s[5:7]), atoi(s[8:10])
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return 0, false
	}
	return dayOf(t), true
}

// dayOf returns the day number of t's calendar date in t's location.
func dayOf(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
}

// dayTime returns midnight at the start of day in loc.
func dayTime(day int64, loc *time.Location) time.Time {
	y, m, d := time.Unix(day*secondsPerDay, 0).UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// formatDay renders a day number as YYYY-MM-DD.
func formatDay(day int64) string {
	return time.Unix(day*secondsPerDay, 0).UTC().Format(time.DateOnly)
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// parseDateTime parses YYYY-MM-DDThh:mm:ss[.fraction][zone]. The zone is
// Z, ±hh:mm or (only when strict is false) ±hhmm or absent, meaning UTC.
// Strict parsing is for query literals; lenient parsing is for record
// values, which Salesforce renders as 2024-01-31T10:00:00.000+0000.
func parseDateTime(s string, strict bool) (time.Time, bool) {
	if len(s) < 19 || s[10] != 'T' && (strict || s[10] != ' ') {
		return time.Time{}, false
	}
	day, ok := parseDay(s[:10])
	if !ok || !isDigits(s[11:13]) || s[13] != ':' || !isDigits(s[14:16]) || s[16] != ':' || !isDigits(s[17:19]) {
		return time.Time{}, false
	}
	h, mi, sec := atoi(s[11:13]), atoi(s[14:16]), atoi(s[17:19])
	if h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := s[19:]
	nanos := 0
	if strings.HasPrefix(rest, ".") {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		frac := rest[1:j]
		if frac == "" {
			return time.Time{}, false
		}
		for k := 0; k < 9; k++ {
			nanos *= 10
			if k < len(frac) {
				nanos += int(frac[k] - '0')
			}
		}
		rest = rest[j:]
	}
	offset := 0
	switch {
	case rest == "Z":
	case rest == "" && !strict:
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && isDigits(rest[1:3]) && rest[3] == ':' &&
		isDigits(rest[4:6]):
		offset = zoneOffset(rest[0], atoi(rest[1:3]), atoi(rest[4:6]))
	case !strict && len(rest) == 5 && (rest[0] == '+' || rest[0] == '-') && isDigits(rest[1:5]):
		offset = zoneOffset(rest[0], atoi(rest[1:3]), atoi(rest[3:5]))
	default:
		return time.Time{}, false
	}
	if offset < -24*3600 || offset > 24*3600 {
		return time.Time{}, false
	}
	t := dayTime(day, time.UTC).Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute +
		time.Duration(sec)*time.Second + time.Duration(nanos) - time.Duration(offset)*time.Second)
	return t, true
}

func zoneOffset(sign byte, h, m int) int {
	o := h*3600 + m*60
	if sign == '-' {
		return -o
	}
	return o
}

// relDate is a relative date literal such as TODAY or LAST_N_DAYS:7.
type relDate struct {
	name string // upper case, without ":n"
	n    int    // for the _N_ literals
}

// relNames lists the supported relative date literals; true marks the ones
// that take ":n".
var relNames = map[string]bool{
	"YESTERDAY":   false,
	"TODAY":       false,
	"TOMORROW":    false,
	"LAST_N_DAYS": true,
	"NEXT_N_DAYS": true,
	"LAST_MONTH":  false,
	"THIS_MONTH":  false,
	"NEXT_MONTH":  false,
	"LAST_YEAR":   false,
	"THIS_YEAR":   false,
	"NEXT_YEAR":   false,
}

// maxRelN bounds n in LAST_N_DAYS:n and NEXT_N_DAYS:n so date arithmetic
// stays far from overflow; it is more than a million years of days.
const maxRelN = 1 << 29

// days returns the literal's range [start, end) as day numbers, where today
// is now's calendar date in now's location. LAST_N_DAYS:n covers today and
// the n days before it; NEXT_N_DAYS:n covers the n days after today.
func (r relDate) days(now time.Time) (start, end int64) {
	today := dayOf(now)
	y, m, _ := now.Date()
	month := func(delta int) (int64, int64) {
		first := time.Date(y, m+time.Month(delta), 1, 0, 0, 0, 0, time.UTC)
		return dayOf(first), dayOf(first.AddDate(0, 1, 0))
	}
	year := func(delta int) (int64, int64) {
		first := time.Date(y+delta, 1, 1, 0, 0, 0, 0, time.UTC)
		return dayOf(first), dayOf(first.AddDate(1, 0, 0))
	}
	switch r.name {
	case "YESTERDAY":
		return today - 1, today
	case "TOMORROW":
		return today + 1, today + 2
	case "LAST_N_DAYS":
		return today - int64(r.n), today + 1
	case "NEXT_N_DAYS":
		return today + 1, today + 1 + int64(r.n)
	case "LAST_MONTH":
		return month(-1)
	case "THIS_MONTH":
		return month(0)
	case "NEXT_MONTH":
		return month(1)
	case "LAST_YEAR":
		return year(-1)
	case "THIS_YEAR":
		return year(0)
	case "NEXT_YEAR":
		return year(1)
	}
	return today, today + 1 // TODAY
}
