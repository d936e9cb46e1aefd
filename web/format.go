package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// berlin is the default time zone: Pforte is made for German companies.
// Loaded once; it is a constant in all but name.
var berlin = mustLoad("Europe/Berlin")

func mustLoad(name string) *time.Location {
	if l, err := time.LoadLocation(name); err == nil {
		return l
	}
	return time.UTC
}

type locationKey struct{}

// WithLocation sets the time zone that everything rendered with ctx shows
// times in; nil keeps the default, Europe/Berlin.
func WithLocation(ctx context.Context, loc *time.Location) context.Context {
	if loc == nil {
		return ctx
	}
	return context.WithValue(ctx, locationKey{}, loc)
}

// Location returns the time zone of ctx (Europe/Berlin unless set).
func Location(ctx context.Context) *time.Location {
	if l, _ := ctx.Value(locationKey{}).(*time.Location); l != nil {
		return l
	}
	return berlin
}

func initials(name string) string {
	var out []rune
	for _, f := range strings.Fields(name) {
		r, _ := utf8.DecodeRuneInString(f)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// clock formats a time for a message: the time today, else date and time.
func clock(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	loc := Location(ctx)
	t = t.In(loc)
	now := time.Now().In(loc)
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04")
	}
	if Lang(ctx) == "en" {
		return t.Format("2 Jan 15:04")
	}
	return t.Format("02.01. 15:04")
}

// dateTime is a full, unambiguous timestamp.
func dateTime(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	t = t.In(Location(ctx))
	if Lang(ctx) == "en" {
		return t.Format("2 Jan 2006, 15:04:05")
	}
	return t.Format("02.01.2006, 15:04:05")
}

func dayLabel(ctx context.Context, t time.Time) string {
	if Lang(ctx) == "en" {
		return t.Format("Mon 2")
	}
	return []string{"So", "Mo", "Di", "Mi", "Do", "Fr", "Sa"}[t.Weekday()] + " " + t.Format("2.")
}

// ago is a short relative time ("5 Min.", "3 Std.", "2 T.").
func ago(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	en := Lang(ctx) == "en"
	switch {
	case d < time.Minute:
		if en {
			return "now"
		}
		return "jetzt"
	case d < time.Hour:
		if en {
			return fmt.Sprintf("%d min", int(d.Minutes()))
		}
		return fmt.Sprintf("%d Min.", int(d.Minutes()))
	case d < 24*time.Hour:
		if en {
			return fmt.Sprintf("%d h", int(d.Hours()))
		}
		return fmt.Sprintf("%d Std.", int(d.Hours()))
	}
	if en {
		return fmt.Sprintf("%d d", int(d.Hours()/24))
	}
	return fmt.Sprintf("%d T.", int(d.Hours()/24))
}

// duration formats response times.
func duration(ctx context.Context, d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	if Lang(ctx) == "en" {
		return decimal(ctx, d.Hours()) + " h"
	}
	return decimal(ctx, d.Hours()) + " Std."
}

// bytesHuman formats a size in binary units with the language's decimal
// mark: "1,2 MiB" in German, "1.2 MiB" in English.
func bytesHuman(ctx context.Context, n int64) string {
	const unit = 1024
	if n < unit {
		return Num(ctx, n) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return decimal(ctx, float64(n)/float64(div)) + fmt.Sprintf(" %ciB", "KMGTPE"[exp])
}

// decimal formats f with one decimal place and the language's decimal mark.
func decimal(ctx context.Context, f float64) string {
	s := fmt.Sprintf("%.1f", f)
	if Lang(ctx) != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// Num formats a whole number with the language's thousands separator:
// "1.234" in German, "1,234" in English; four-digit numbers too, as
// German style guides allow both and a column of counts reads evenly.
func Num(ctx context.Context, n int64) string {
	sep := "."
	if Lang(ctx) == "en" {
		sep = ","
	}
	digits := fmt.Sprint(n)
	sign := ""
	if n < 0 {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(d)
	}
	return sign + b.String()
}

// num is Num for an int, the type most view models count in.
func num(ctx context.Context, n int) string { return Num(ctx, int64(n)) }

func itoa(n int) string      { return fmt.Sprint(n) }
func i64(n int64) string     { return fmt.Sprint(n) }
func coord(f float64) string { return fmt.Sprintf("%.6f", f) }

// TextPart is a piece of message text: plain, or a link.
type TextPart struct {
	Text string
	URL  string
}

// Linkify splits text into plain parts and http(s) links. Only absolute
// http and https URLs become links; everything is rendered escaped.
func Linkify(text string) []TextPart {
	var out []TextPart
	rest := text
	for {
		i := indexURL(rest)
		if i < 0 {
			if rest != "" {
				out = append(out, TextPart{Text: rest})
			}
			return out
		}
		if i > 0 {
			out = append(out, TextPart{Text: rest[:i]})
		}
		end := i
		for end < len(rest) && !unicode.IsSpace(rune(rest[end])) && rest[end] != '<' && rest[end] != '>' && rest[end] != '"' {
			end++
		}
		u := strings.TrimRight(rest[i:end], ".,;:!?)]'")
		if p, err := url.Parse(u); err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" {
			out = append(out, TextPart{Text: u, URL: u})
		} else {
			out = append(out, TextPart{Text: u})
		}
		rest = rest[i+len(u):]
	}
}

func indexURL(s string) int {
	a, b := strings.Index(s, "http://"), strings.Index(s, "https://")
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

func safeURL(u string) string { return u }

func sameDay(ctx context.Context, a, b time.Time) bool {
	loc := Location(ctx)
	a, b = a.In(loc), b.In(loc)
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

func dayHeading(ctx context.Context, t time.Time) string {
	loc := Location(ctx)
	t = t.In(loc)
	now := time.Now().In(loc)
	switch {
	case sameDay(ctx, t, now):
		return T(ctx, "Heute")
	case sameDay(ctx, t, now.AddDate(0, 0, -1)):
		return T(ctx, "Gestern")
	}
	if Lang(ctx) == "en" {
		return t.Format("Monday, 2 January 2006")
	}
	days := []string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	months := []string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
	return fmt.Sprintf("%s, %d. %s %d", days[t.Weekday()], t.Day(), months[t.Month()-1], t.Year())
}

// countdown is the time left in the customer-service window.
func countdown(ctx context.Context, until time.Time) string {
	d := time.Until(until)
	if d <= 0 {
		return T(ctx, "Fenster zu")
	}
	h, m := int(d.Hours()), int(d.Minutes())%60
	return Tf(ctx, "noch %d:%02d Std.", h, m)
}

// typeLabel names a message type for people.
func typeLabel(ctx context.Context, t string) string {
	switch t {
	case "image":
		return T(ctx, "Bild")
	case "video":
		return T(ctx, "Video")
	case "audio":
		return T(ctx, "Audio")
	case "document":
		return T(ctx, "Dokument")
	case "sticker":
		return T(ctx, "Sticker")
	case "location":
		return T(ctx, "Standort")
	case "contacts":
		return T(ctx, "Kontaktkarte")
	case "interactive", "button":
		return T(ctx, "Auswahl")
	case "reaction":
		return T(ctx, "Reaktion")
	case "order":
		return T(ctx, "Bestellung")
	case "template":
		return T(ctx, "Vorlage")
	case "system":
		return T(ctx, "Hinweis")
	}
	return T(ctx, "Nachricht")
}

func choiceLabel(ctx context.Context, kind string) string {
	switch kind {
	case "list":
		return T(ctx, "Aus Liste gewählt")
	case "flow":
		return T(ctx, "Formular ausgefüllt")
	}
	return T(ctx, "Knopf gedrückt")
}

func reactionTitle(ctx context.Context, r ReactionVM) string {
	if r.Outbound {
		return T(ctx, "Ihre Reaktion")
	}
	return T(ctx, "Reaktion des Kunden")
}

func replyPreview(ctx context.Context, m MessageVM) string {
	s := m.Text
	if s == "" {
		s = typeLabel(ctx, m.Type)
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return s
}

func statusLabel(ctx context.Context, s string) string {
	if s == "open" {
		return T(ctx, "Offen")
	}
	return T(ctx, "Erledigt")
}

func statusClass(s string) string {
	switch s {
	case "APPROVED", "REINSTATED", "UNPAUSED":
		return "ok"
	case "REJECTED", "DISABLED", "DELETED", "PENDING_DELETION", "LOCKED":
		return "bad"
	case "PAUSED", "FLAGGED", "LIMIT_EXCEEDED", "IN_APPEAL", "PENDING", "ARCHIVED":
		return "warn"
	}
	return "none"
}

func templateStatus(ctx context.Context, s string) string {
	switch s {
	case "APPROVED":
		return T(ctx, "Genehmigt")
	case "REJECTED":
		return T(ctx, "Abgelehnt")
	case "PAUSED":
		return T(ctx, "Pausiert")
	case "PENDING":
		return T(ctx, "In Prüfung")
	case "DISABLED":
		return T(ctx, "Deaktiviert")
	case "FLAGGED":
		return T(ctx, "Markiert")
	case "REINSTATED", "UNPAUSED":
		return T(ctx, "Wieder aktiv")
	case "ARCHIVED":
		return T(ctx, "Archiviert")
	case "DELETED", "PENDING_DELETION":
		return T(ctx, "Gelöscht")
	case "":
		return T(ctx, "Status unbekannt")
	}
	return s
}

func purposeLabel(ctx context.Context, p string) string {
	if p == "marketing" {
		return T(ctx, "Werbung")
	}
	return T(ctx, "Kundenservice")
}
