package automation

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pforte/pforte/store"
)

// Limits of a reply's settings.
const (
	// MinInterval is the shortest rate limit: below it two automatic
	// systems (ours and a customer's bot) could answer each other in a loop.
	MinInterval     = 10 * time.Minute
	DefaultInterval = 12 * time.Hour
	MaxInterval     = 30 * 24 * time.Hour
	DefaultWaiting  = 15 * time.Minute
	DefaultNudge    = time.Hour // before the window closes
	maxText         = 4096      // Meta's limit of a text message body
)

// ReplySpec is the API's and the store's shape of one automatic reply.
type ReplySpec struct {
	Enabled     bool   `json:"enabled"`
	Text        string `json:"text"`              // German, and the fallback
	TextEN      string `json:"text_en,omitempty"` // for customers known to prefer English
	MinInterval string `json:"min_interval"`      // at most once per conversation per this long
	After       string `json:"after,omitempty"`   // waiting: minutes without an answer
	PrivacyURL  string `json:"privacy_url,omitempty"`
}

// Reply is a checked automatic reply.
type Reply struct {
	Kind        store.AutomationKind
	Enabled     bool
	Text        string
	TextEN      string
	MinInterval time.Duration
	After       time.Duration
	PrivacyURL  string
}

// Default texts, used when an admin turns a reply on without one.
var defaultTexts = map[store.AutomationKind][2]string{
	store.AutoWelcome: {
		"Willkommen, {{name}}! Schön, dass Sie uns schreiben. Datenschutz: Verantwortlich ist unser Unternehmen; wir verarbeiten Ihre Nachrichten, um Ihre Anfrage zu beantworten, und löschen sie nach Ablauf unserer Aufbewahrungsfristen. Sie haben das Recht auf Auskunft, Berichtigung, Löschung, Einschränkung, Widerspruch und Beschwerde bei einer Aufsichtsbehörde. Mehr: {{privacy_url}}",
		"Welcome, {{name}}! Thank you for writing to us. Privacy: our company is the controller; we process your messages to answer your request and delete them when our retention periods end. You have the right of access, rectification, erasure, restriction, objection and to complain to a supervisory authority. More: {{privacy_url}}",
	},
	store.AutoAway: {
		"Danke für Ihre Nachricht! Wir sind gerade außerhalb unserer Geschäftszeiten und antworten Ihnen ab {{next_opening}}.",
		"Thank you for your message! We are outside our business hours and will answer from {{next_opening}}.",
	},
	store.AutoWaiting: {
		"Danke für Ihre Geduld, {{name}}! Wir haben Ihre Nachricht erhalten und melden uns so schnell wie möglich.",
		"Thank you for your patience, {{name}}! We have your message and will answer as soon as we can.",
	},
	store.AutoNudge: {
		"Bitte antworten Sie kurz, damit wir Ihnen weiter schreiben können.",
		"Please send us a short reply so that we can keep writing to you.",
	},
}

var (
	variable = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
	nameless = regexp.MustCompile(`,?[ \t]*\{\{\s*name\s*\}\}`)
)

// known variables per reply.
var variables = map[store.AutomationKind][]string{
	store.AutoWelcome: {"name", "privacy_url", "next_opening"},
	store.AutoAway:    {"name", "next_opening"},
	store.AutoWaiting: {"name"},
	store.AutoNudge:   {"name"},
}

// ParseReply decodes and checks a reply's settings.
func ParseReply(kind store.AutomationKind, body []byte) (*Reply, error) {
	var spec ReplySpec
	if err := decodeStrict(body, &spec); err != nil {
		return nil, err
	}
	return NewReply(kind, spec)
}

// NewReply checks a reply's settings.
func NewReply(kind store.AutomationKind, spec ReplySpec) (*Reply, error) {
	if !kind.Valid() {
		return nil, bad("kind", "Unbekannte automatische Antwort %q; erlaubt sind welcome, away, waiting, nudge.",
			"Unknown automatic reply %q; allowed are welcome, away, waiting, nudge.", kind)
	}
	r := &Reply{Kind: kind, Enabled: spec.Enabled, Text: strings.TrimSpace(spec.Text), TextEN: strings.TrimSpace(spec.TextEN),
		MinInterval: DefaultInterval, PrivacyURL: strings.TrimSpace(spec.PrivacyURL)}
	if r.Text == "" {
		r.Text = defaultTexts[kind][0]
		if r.TextEN == "" {
			r.TextEN = defaultTexts[kind][1]
		}
	}
	for field, text := range map[string]string{"text": r.Text, "text_en": r.TextEN} {
		if utf8.RuneCountInString(text) > maxText-200 {
			return nil, bad(field, "Der Text ist zu lang (höchstens %d Zeichen).", "The text is too long (at most %d characters).", maxText-200)
		}
		for _, m := range variable.FindAllStringSubmatch(text, -1) {
			if !contains(variables[kind], m[1]) {
				return nil, bad(field, "Unbekannte Variable {{%s}}; möglich sind %s.", "Unknown variable {{%s}}; possible are %s.",
					m[1], "{{"+strings.Join(variables[kind], "}}, {{")+"}}")
			}
		}
	}
	if spec.MinInterval != "" {
		d, err := time.ParseDuration(spec.MinInterval)
		if err != nil {
			return nil, bad("min_interval", "%q ist keine Dauer (Beispiel: 12h oder 30m).", "%q is not a duration (example: 12h or 30m).", spec.MinInterval)
		}
		r.MinInterval = d
	}
	if r.MinInterval < MinInterval {
		return nil, bad("min_interval", "Mindestens %s: kürzer könnten sich zwei automatische Antworten gegenseitig auslösen (Schleife).",
			"At least %s: shorter, two automatic answers could trigger each other (a loop).", MinInterval)
	}
	if r.MinInterval > MaxInterval {
		return nil, bad("min_interval", "Höchstens %s.", "At most %s.", MaxInterval)
	}
	if kind == store.AutoWaiting {
		r.After = DefaultWaiting
		if spec.After != "" {
			d, err := time.ParseDuration(spec.After)
			if err != nil || d < time.Minute || d > 23*time.Hour {
				return nil, bad("after", "Wartezeit zwischen 1m und 23h angeben (Beispiel: 15m).", "Give a waiting time between 1m and 23h (example: 15m).")
			}
			r.After = d
		}
	} else if kind == store.AutoNudge {
		r.After = DefaultNudge
		if spec.After != "" {
			d, err := time.ParseDuration(spec.After)
			if err != nil || d < 10*time.Minute || d > 12*time.Hour {
				return nil, bad("after", "Vorlauf vor dem Ende des 24-Stunden-Fensters zwischen 10m und 12h angeben (Beispiel: 1h).",
					"Give the lead before the 24-hour window ends between 10m and 12h (example: 1h).")
			}
			r.After = d
		}
	} else if spec.After != "" {
		return nil, bad("after", "Eine Wartezeit gibt es nur bei der Warte-Antwort (waiting) und der Erinnerung (nudge).",
			"Only the waiting and nudge replies have a time.")
	}
	if kind == store.AutoWelcome {
		if r.PrivacyURL == "" && r.Enabled {
			return nil, bad("privacy_url", "Die Begrüßung enthält den Datenschutzhinweis (Art. 13 DSGVO): bitte den Link zur Datenschutzerklärung angeben.",
				"The welcome carries the privacy notice (Art. 13 GDPR): give the link to the privacy policy.")
		}
		if r.PrivacyURL != "" {
			u, err := url.Parse(r.PrivacyURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, bad("privacy_url", "Bitte eine vollständige Adresse angeben, z. B. https://example.de/datenschutz.",
					"Give a full address, e.g. https://example.com/privacy.")
			}
		}
	} else if r.PrivacyURL != "" {
		return nil, bad("privacy_url", "Der Datenschutz-Link gehört zur Begrüßung (welcome).", "The privacy link belongs to the welcome reply.")
	}
	return r, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Spec is the reply as the API shows it.
func (r *Reply) Spec() ReplySpec {
	s := ReplySpec{Enabled: r.Enabled, Text: r.Text, TextEN: r.TextEN, MinInterval: r.MinInterval.String(), PrivacyURL: r.PrivacyURL}
	if r.Kind == store.AutoWaiting || r.Kind == store.AutoNudge {
		s.After = r.After.String()
	}
	return s
}

// JSON is the stored form.
func (r *Reply) JSON() string {
	b, _ := json.Marshal(r.Spec())
	return string(b)
}

// DefaultReply is what an unset reply is: off, with the default texts.
func DefaultReply(kind store.AutomationKind) *Reply {
	r, _ := NewReply(kind, ReplySpec{})
	if r == nil {
		return &Reply{Kind: kind, MinInterval: DefaultInterval}
	}
	return r
}

// Render fills the variables into the text for the customer's language.
// The welcome always carries the privacy link, even if the text forgot it.
func (r *Reply) Render(english bool, vars map[string]string) string {
	text := r.Text
	if english && r.TextEN != "" {
		text = r.TextEN
	}
	if vars["name"] == "" {
		// "Willkommen, {{name}}!" reads "Willkommen!" without a name.
		text = nameless.ReplaceAllString(text, "")
	}
	out := variable.ReplaceAllStringFunc(text, func(m string) string {
		return vars[variable.FindStringSubmatch(m)[1]]
	})
	if r.Kind == store.AutoWelcome && r.PrivacyURL != "" && !strings.Contains(out, r.PrivacyURL) {
		label := "Datenschutz: "
		if english {
			label = "Privacy: "
		}
		out += "\n\n" + label + r.PrivacyURL
	}
	return strings.TrimSpace(out)
}

// germanPrefixes are country codes whose customers get the German text;
// everyone else gets English when an English text is set. Meta tells
// nothing about a customer's language, so the number is the best guess.
var germanPrefixes = []string{"49", "43", "41", "423", "352"}

// PrefersEnglish guesses a customer's language from the phone number;
// unknown (a user id only) stays German.
func PrefersEnglish(waID string) bool {
	if waID == "" {
		return false
	}
	for _, p := range germanPrefixes {
		if strings.HasPrefix(waID, p) {
			return false
		}
	}
	return true
}
