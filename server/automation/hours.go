// Package automation answers customers when nobody can: business hours per
// business number, and the welcome, away and waiting replies. It reads what
// the store keeps after a delivery (fed by the one ingest hook, never on
// the webhook's path) and sends through the outbox like anyone else, so an
// automatic message is stored, paced, consent-checked and priced like any
// other, marked with the rule that sent it.
package automation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/de"
)

// InputError is bad input: the field at fault, a German message for the
// panel and the API, and its English translation.
type InputError struct {
	Field string
	De    string
	En    string
}

func (e *InputError) Error() string { return e.Field + ": " + e.De }

func bad(field, deMsg, enMsg string, args ...any) *InputError {
	return &InputError{Field: field, De: fmt.Sprintf(deMsg, args...), En: fmt.Sprintf(enMsg, args...)}
}

// decodeStrict reads exactly one JSON object of known fields into v, so
// a typo in a setting is refused instead of silently ignored.
func decodeStrict(body []byte, v any) *InputError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bad("body", "Ungültiges JSON: %v", "Invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("body", "Nach dem JSON-Objekt folgt noch etwas.", "Trailing data after the JSON object.")
	}
	return nil
}

// States are the German Bundesländer the holiday library knows, by their
// ISO 3166-2 code without "DE-".
var States = map[string][]*cal.Holiday{
	"BW": de.HolidaysBW, "BY": de.HolidaysBY, "BE": de.HolidaysBE, "BB": de.HolidaysBB,
	"HB": de.HolidaysHB, "HH": de.HolidaysHH, "HE": de.HolidaysHE, "MV": de.HolidaysMV,
	"NI": de.HolidaysNI, "NW": de.HolidaysNW, "RP": de.HolidaysRP, "SL": de.HolidaysSL,
	"SN": de.HolidaysSN, "ST": de.HolidaysST, "SH": de.HolidaysSH, "TH": de.HolidaysTH,
}

// dayKeys are the API's names of the week days, Monday first.
var dayKeys = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// weekdayOf maps a day key's index to Go's weekday.
func weekdayOf(i int) time.Weekday { return time.Weekday((i + 1) % 7) }

// Range is one opening range of a day, in minutes after local midnight;
// End may be 1440 ("24:00").
type Range struct{ Start, End int }

// HoursSpec is the API's and the store's shape of business hours.
type HoursSpec struct {
	Timezone   string                 `json:"timezone"`
	State      string                 `json:"state"`
	Week       map[string][][2]string `json:"week"`
	ClosedDays []string               `json:"closed_days"`
}

// Hours are a number's checked business hours.
type Hours struct {
	spec   HoursSpec
	loc    *time.Location
	week   [7][]Range // by time.Weekday
	closed map[[3]int]bool
	hol    []*cal.Holiday

	mu    sync.Mutex
	years map[int]map[[2]int]string // year → (month, day) → holiday name
}

// ParseHours decodes and checks business hours. Any error is an
// *InputError (or a JSON error) and nothing is half-read.
func ParseHours(body []byte) (*Hours, error) {
	var spec HoursSpec
	if err := decodeStrict(body, &spec); err != nil {
		return nil, err
	}
	return NewHours(spec)
}

// NewHours checks a spec.
func NewHours(spec HoursSpec) (*Hours, error) {
	h := &Hours{spec: spec, closed: map[[3]int]bool{}, years: map[int]map[[2]int]string{}}
	if spec.Timezone == "" {
		return nil, bad("timezone", "Bitte eine Zeitzone angeben, z. B. Europe/Berlin.", "Give a time zone, e.g. Europe/Berlin.")
	}
	loc, err := time.LoadLocation(spec.Timezone)
	if err != nil || spec.Timezone == "Local" || strings.EqualFold(spec.Timezone, "local") {
		return nil, bad("timezone", "Die Zeitzone %q gibt es nicht (Beispiel: Europe/Berlin).", "The time zone %q does not exist (example: Europe/Berlin).", spec.Timezone)
	}
	h.loc = loc
	h.hol = de.Holidays
	if spec.State != "" {
		list, ok := States[spec.State]
		if !ok {
			keys := make([]string, 0, len(States))
			for k := range States {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, bad("state", "Das Bundesland %q kennt der Feiertagskalender nicht; erlaubt sind %s.",
				"The holiday calendar does not know the state %q; allowed are %s.", spec.State, strings.Join(keys, ", "))
		}
		h.hol = list
	}
	for key := range spec.Week {
		if !slices.Contains(dayKeys, key) {
			return nil, bad("week."+key, "Unbekannter Wochentag %q; erlaubt sind mon, tue, wed, thu, fri, sat, sun.",
				"Unknown week day %q; allowed are mon, tue, wed, thu, fri, sat, sun.", key)
		}
	}
	for i, key := range dayKeys {
		var ranges []Range
		for j, pair := range spec.Week[key] {
			field := fmt.Sprintf("week.%s[%d]", key, j)
			start, ok1 := parseClock(pair[0])
			end, ok2 := parseClock(pair[1])
			if !ok1 || !ok2 {
				return nil, bad(field, "Zeiten als HH:MM zwischen 00:00 und 24:00 angeben, z. B. [\"08:00\", \"12:00\"].",
					"Give times as HH:MM between 00:00 and 24:00, e.g. [\"08:00\", \"12:00\"].")
			}
			if end <= start {
				return nil, bad(field, "Der Zeitraum %s–%s ist leer: das Ende muss nach dem Beginn liegen.",
					"The range %s–%s is empty: the end must be after the start.", pair[0], pair[1])
			}
			ranges = append(ranges, Range{start, end})
		}
		sort.Slice(ranges, func(a, b int) bool { return ranges[a].Start < ranges[b].Start })
		for j := 1; j < len(ranges); j++ {
			if ranges[j].Start < ranges[j-1].End {
				return nil, bad("week."+key, "Die Zeiträume %s und %s überschneiden sich.", "The ranges %s and %s overlap.",
					clock(ranges[j-1]), clock(ranges[j]))
			}
		}
		h.week[weekdayOf(i)] = ranges
	}
	for j, d := range spec.ClosedDays {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil, bad(fmt.Sprintf("closed_days[%d]", j), "%q ist kein Datum der Form JJJJ-MM-TT.", "%q is not a date of the form YYYY-MM-DD.", d)
		}
		h.closed[[3]int{t.Year(), int(t.Month()), t.Day()}] = true
	}
	return h, nil
}

func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	var hh, mm int
	for _, c := range s[:2] + s[3:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	hh = int(s[0]-'0')*10 + int(s[1]-'0')
	mm = int(s[3]-'0')*10 + int(s[4]-'0')
	if mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

func clock(r Range) string {
	return fmt.Sprintf("%02d:%02d–%02d:%02d", r.Start/60, r.Start%60, r.End/60, r.End%60)
}

// Spec is the hours as the API shows them (normalised: sorted ranges).
func (h *Hours) Spec() HoursSpec {
	out := HoursSpec{Timezone: h.spec.Timezone, State: h.spec.State, Week: map[string][][2]string{}, ClosedDays: []string{}}
	for i, key := range dayKeys {
		for _, r := range h.week[weekdayOf(i)] {
			out.Week[key] = append(out.Week[key], [2]string{hm(r.Start), hm(r.End)})
		}
	}
	out.ClosedDays = append(out.ClosedDays, h.spec.ClosedDays...)
	sort.Strings(out.ClosedDays)
	return out
}

// JSON is the stored form.
func (h *Hours) JSON() string {
	b, _ := json.Marshal(h.Spec())
	return string(b)
}

func hm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Location is the hours' time zone.
func (h *Hours) Location() *time.Location { return h.loc }

// Holiday names the public holiday on the local date of t, if any.
func (h *Hours) Holiday(t time.Time) (string, bool) {
	t = t.In(h.loc)
	h.mu.Lock()
	defer h.mu.Unlock()
	days, ok := h.years[t.Year()]
	if !ok {
		days = map[[2]int]string{}
		for _, hol := range h.hol {
			// Calc gives the date at midnight in the process's zone: only
			// the calendar date counts, read in that zone.
			actual, _ := hol.Calc(t.Year())
			if !actual.IsZero() {
				days[[2]int{int(actual.Month()), actual.Day()}] = hol.Name
			}
		}
		h.years[t.Year()] = days
	}
	name, ok := days[[2]int{int(t.Month()), t.Day()}]
	return name, ok
}

// closedOn reports whether the local date of t is a holiday or closed day.
func (h *Hours) closedOn(t time.Time) bool {
	if h.closed[[3]int{t.Year(), int(t.Month()), t.Day()}] {
		return true
	}
	_, hol := h.Holiday(t)
	return hol
}

// Open reports whether t falls in the business hours: wall-clock time in
// the hours' zone, so a DST change moves nothing that a clock on the wall
// would not move.
func (h *Hours) Open(t time.Time) bool {
	t = t.In(h.loc)
	ranges := h.week[t.Weekday()]
	if len(ranges) == 0 || h.closedOn(t) {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	for _, r := range ranges {
		if m >= r.Start && m < r.End {
			return true
		}
	}
	return false
}

// NextOpening is the first instant at or after t when the hours are open;
// false when they are never open in the coming year.
func (h *Hours) NextOpening(t time.Time) (time.Time, bool) {
	if h.Open(t) {
		return t, true
	}
	local := t.In(h.loc)
	y, mo, d := local.Date()
	for i := 0; i <= 370; i++ {
		day := time.Date(y, mo, d+i, 12, 0, 0, 0, h.loc) // noon exists on every day, DST or not
		if h.closedOn(day) {
			continue
		}
		for _, r := range h.week[day.Weekday()] {
			dy, dm, dd := day.Date()
			start := time.Date(dy, dm, dd, r.Start/60, r.Start%60, 0, 0, h.loc)
			// When the clock falls back, the start may exist twice; time.Date
			// may pick the later one.
			for _, c := range []time.Time{start.Add(-time.Hour), start} {
				if c.After(t) && c.In(h.loc).Hour()*60+c.In(h.loc).Minute() == r.Start && h.Open(c) {
					return c, true
				}
			}
			if !h.Open(start) {
				// The start fell into the spring-forward gap: the range opens
				// at the first wall-clock minute that exists.
				for c := start.Add(-time.Hour).Truncate(time.Minute); c.Before(start.Add(time.Hour)); c = c.Add(time.Minute) {
					if c.After(t) && h.Open(c) {
						return c, true
					}
				}
			}
		}
	}
	return time.Time{}, false
}

// germanDays are the short week day names for "öffnet Mo 08:00".
var germanDays = [7]string{"So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"}

// FormatOpening writes an opening time for a customer or the inbox: the
// week day and time within a week, else the date too.
func FormatOpening(next, now time.Time, loc *time.Location, english bool) string {
	next, now = next.In(loc), now.In(loc)
	within := next.Sub(now) < 6*24*time.Hour
	if english {
		if within {
			return next.Format("Mon 15:04")
		}
		return next.Format("Mon 2 Jan 15:04")
	}
	if within {
		return germanDays[next.Weekday()] + " " + next.Format("15:04")
	}
	return germanDays[next.Weekday()] + " " + next.Format("02.01. 15:04")
}
