package automation_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/automation"
)

const bavaria = `{"timezone": "Europe/Berlin", "state": "BY",
	"week": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "tue": [["13:00", "18:00"], ["08:00", "12:00"]],
		"wed": [["08:00", "12:00"], ["13:00", "18:00"]], "thu": [["08:00", "12:00"], ["13:00", "18:00"]],
		"fri": [["08:00", "12:00"], ["13:00", "18:00"]], "sun": [["02:30", "03:30"]]},
	"closed_days": ["2026-12-24"]}`

func berlin(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func mustHours(t *testing.T, spec string) *automation.Hours {
	t.Helper()
	h, err := automation.ParseHours([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Open is exact at every edge: ranges, the lunch break, a weekday that is
// a holiday in Bavaria only, the company's own closed day, and both DST
// changes of 2026 (29 March, 25 October).
func TestHoursOpenExactly(t *testing.T) {
	h := mustHours(t, bavaria)
	for _, c := range []struct {
		at   string
		open bool
	}{
		{"2026-06-01 07:59", false}, {"2026-06-01 08:00", true}, {"2026-06-01 11:59", true}, {"2026-06-01 12:00", false},
		{"2026-06-01 12:59", false}, {"2026-06-01 13:00", true}, {"2026-06-01 17:59", true}, {"2026-06-01 18:00", false},
		{"2026-06-01 22:00", false}, {"2026-06-06 10:00", false}, // Saturday: left out, closed
		{"2026-06-02 08:30", true},  // Tuesday: ranges given out of order
		{"2026-06-04 10:00", false}, // Fronleichnam: a holiday in Bavaria
		{"2026-12-24 10:00", false}, // Heiligabend: the company's closed day
		{"2026-12-23 10:00", true},
		{"2026-12-25 10:00", false}, // Weihnachten, nationwide
		{"2026-03-27 17:30", true},  // Friday before spring forward
		{"2026-03-30 08:00", true},  // Monday after: 08:00 on the wall, now CEST
		{"2026-03-30 07:59", false},
	} {
		if got := h.Open(berlin(t, c.at)); got != c.open {
			t.Errorf("Open(%s) = %v, want %v", c.at, got, c.open)
		}
	}
	// Fronleichnam is no holiday in Berlin: the same hours there are open.
	be := mustHours(t, strings.Replace(bavaria, `"BY"`, `"BE"`, 1))
	if !be.Open(berlin(t, "2026-06-04 10:00")) {
		t.Error("Berlin is closed on Fronleichnam; the holiday is Bavaria's")
	}
	if name, ok := h.Holiday(berlin(t, "2026-06-04 10:00")); !ok || name != "Fronleichnam" {
		t.Errorf("holiday = %q %v", name, ok)
	}
	// Fall back: 02:30 happens twice on 25 October 2026; the Sunday range
	// 02:30–03:30 is open both times, and closes at 03:30 CET.
	for utc, open := range map[string]bool{"2026-10-25T00:29:00Z": false, "2026-10-25T00:30:00Z": true, "2026-10-25T01:30:00Z": true,
		"2026-10-25T02:29:00Z": true, "2026-10-25T02:30:00Z": false} {
		at, _ := time.Parse(time.RFC3339, utc)
		if h.Open(at) != open {
			t.Errorf("Open(%s) = %v", utc, !open)
		}
	}
	// Spring forward: 02:30 does not exist on 29 March 2026; the range is
	// open from 03:00 CEST (01:00 UTC) to 03:30.
	for utc, open := range map[string]bool{"2026-03-29T00:59:00Z": false, "2026-03-29T01:00:00Z": true, "2026-03-29T01:29:00Z": true,
		"2026-03-29T01:30:00Z": false} {
		at, _ := time.Parse(time.RFC3339, utc)
		if h.Open(at) != open {
			t.Errorf("Open(%s) = %v", utc, !open)
		}
	}
}

func TestNextOpeningAcrossDSTAndHolidays(t *testing.T) {
	h := mustHours(t, bavaria)
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, c := range []struct {
		from string
		want time.Time
	}{
		// Friday evening before spring forward → the Sunday range starts at
		// 02:30, which does not exist that night: the first open minute is
		// 03:00 CEST (01:00 UTC).
		{"2026-03-27 22:00", utc("2026-03-29T01:00:00Z")},
		// Sunday after that → Monday 08:00 CEST = 06:00 UTC.
		{"2026-03-29 12:00", utc("2026-03-30T06:00:00Z")},
		// Saturday before fall back → Sunday 02:30 CEST (the first of two) = 00:30 UTC.
		{"2026-10-24 20:00", utc("2026-10-25T00:30:00Z")},
		// Sunday 10:00 after fall back → Monday 08:00 CET = 07:00 UTC.
		{"2026-10-25 10:00", utc("2026-10-26T07:00:00Z")},
		// Wednesday 22:00 before Fronleichnam (Thursday) → Friday 08:00.
		{"2026-06-03 22:00", utc("2026-06-05T06:00:00Z")},
		// Lunch break → 13:00 the same day.
		{"2026-06-01 12:30", utc("2026-06-01T11:00:00Z")},
		// Wednesday 23 December evening → 24th closed, 25th/26th holidays,
		// 27th Sunday's 02:30 range.
		{"2026-12-23 19:00", utc("2026-12-27T01:30:00Z")},
	} {
		got, ok := h.NextOpening(berlin(t, c.from))
		if !ok || !got.Equal(c.want) {
			t.Errorf("NextOpening(%s) = %s %v, want %s", c.from, got.UTC(), ok, c.want)
		}
	}
	now := berlin(t, "2026-06-05 22:00") // Friday night
	next, _ := h.NextOpening(now)
	if got := automation.FormatOpening(next, now, h.Location(), false); got != "So 02:30" {
		t.Errorf("German opening = %q", got)
	}
	never := mustHours(t, `{"timezone": "Europe/Berlin", "week": {}}`)
	if _, ok := never.NextOpening(now); ok {
		t.Error("hours without ranges open some day")
	}
}

// Bad input names the field, says what is wrong in German (with an
// English translation) and returns no hours.
func TestParseHoursRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		name, body, field, german string
	}{
		{"overlap", `{"timezone": "Europe/Berlin", "week": {"mon": [["08:00", "12:00"], ["11:00", "14:00"]]}}`, "week.mon", "überschneiden sich"},
		{"empty range", `{"timezone": "Europe/Berlin", "week": {"tue": [["09:00", "09:00"]]}}`, "week.tue[0]", "ist leer"},
		{"reversed", `{"timezone": "Europe/Berlin", "week": {"tue": [["18:00", "09:00"]]}}`, "week.tue[0]", "ist leer"},
		{"blank times", `{"timezone": "Europe/Berlin", "week": {"tue": [["", ""]]}}`, "week.tue[0]", "HH:MM"},
		{"bad time", `{"timezone": "Europe/Berlin", "week": {"wed": [["8:00", "25:00"]]}}`, "week.wed[0]", "HH:MM"},
		{"unknown zone", `{"timezone": "Europe/Bärlin", "week": {}}`, "timezone", "gibt es nicht"},
		{"no zone", `{"week": {}}`, "timezone", "Zeitzone"},
		{"local zone", `{"timezone": "Local"}`, "timezone", "gibt es nicht"},
		{"unknown state", `{"timezone": "Europe/Berlin", "state": "XX"}`, "state", "kennt der Feiertagskalender nicht"},
		{"unknown day", `{"timezone": "Europe/Berlin", "week": {"montag": [["08:00", "12:00"]]}}`, "week.montag", "Unbekannter Wochentag"},
		{"bad closed day", `{"timezone": "Europe/Berlin", "closed_days": ["24.12.2026"]}`, "closed_days[0]", "kein Datum"},
		{"unknown field", `{"timezone": "Europe/Berlin", "holidays": true}`, "body", "Ungültiges JSON"},
		{"trailing", `{"timezone": "Europe/Berlin"} {}`, "body", "folgt noch"},
	} {
		h, err := automation.ParseHours([]byte(c.body))
		var ie *automation.InputError
		if h != nil || !errors.As(err, &ie) {
			t.Errorf("%s: hours %v, err %v", c.name, h, err)
			continue
		}
		if ie.Field != c.field || !strings.Contains(ie.De, c.german) || ie.En == "" || ie.En == ie.De {
			t.Errorf("%s: %+v", c.name, ie)
		}
	}
}

func FuzzParseHours(f *testing.F) {
	f.Add([]byte(bavaria))
	f.Add([]byte(`{"timezone": "UTC", "week": {"sun": [["00:00", "24:00"]]}}`))
	f.Add([]byte(`{"timezone": "America/New_York", "state": "", "closed_days": ["2026-01-01"]}`))
	f.Add([]byte(`{"timezone": "Europe/Berlin", "week": {"mon": [["08:00", "12:00"], ["11:00", "14:00"]]}}`))
	f.Add([]byte(`{}`))
	at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := automation.ParseHours(body)
		if err != nil {
			var ie *automation.InputError
			if !errors.As(err, &ie) || ie.Field == "" || ie.De == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// What was accepted survives its stored form unchanged.
		again, err := automation.ParseHours([]byte(h.JSON()))
		if err != nil || again.JSON() != h.JSON() {
			t.Fatalf("stored form %s does not parse back: %v", h.JSON(), err)
		}
		if next, ok := h.NextOpening(at); ok && (!h.Open(next) || next.Before(at)) {
			t.Fatalf("next opening %s is not open or in the past", next)
		}
	})
}
