package automation

import (
	"log/slog"
	"time"

	"github.com/pforte/pforte/store"
)

// NumberRules are one business number's automations.
type NumberRules struct {
	Hours   *Hours // nil: no business hours set (always open, no away reply)
	Replies map[store.AutomationKind]*Reply
	CSAT    *CSAT // satisfaction survey on close; nil when unset
}

// Rules are every number's automations, by phone number id.
type Rules map[string]*NumberRules

// Compile turns stored settings into rules. A setting that no longer
// passes the checks (e.g. a time zone the system lost) is skipped and
// reported, never half-applied.
func Compile(settings []store.AutomationSetting) (Rules, []error) {
	rules := Rules{}
	var errs []error
	for _, s := range settings {
		nr := rules[s.PhoneNumberID]
		if nr == nil {
			nr = &NumberRules{Replies: map[store.AutomationKind]*Reply{}}
			rules[s.PhoneNumberID] = nr
		}
		switch s.Kind {
		case store.AutoHours:
			h, err := ParseHours([]byte(s.Spec))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			nr.Hours = h
		case store.AutoCSAT:
			c, err := ParseCSAT([]byte(s.Spec))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			nr.CSAT = c
		default:
			r, err := ParseReply(s.Kind, []byte(s.Spec))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			nr.Replies[s.Kind] = r
		}
	}
	return rules, errs
}

// answerable are the message types a person wrote on purpose. Reactions,
// system notices (number changed), unsupported items and the like are
// not a message to answer; statuses and Business-app echoes never reach
// here (they are no inbound messages).
var answerable = map[string]bool{
	"text": true, "image": true, "audio": true, "video": true, "document": true, "sticker": true,
	"location": true, "contacts": true, "interactive": true, "button": true, "order": true,
}

// Decide says which replies an inbound message calls for, before the
// rate limits (which need the store). It is pure and cheap: it runs once
// per message with the rules in memory.
func (rules Rules) Decide(c *store.AutoCandidate, now time.Time) []store.AutomationKind {
	nr := rules[c.PhoneNumberID]
	if nr == nil || c.Group || c.Origin != "" || c.BotActive || c.StopWord || c.SurveyAnswer || !answerable[c.Type] {
		return nil
	}
	var out []store.AutomationKind
	if r := nr.Replies[store.AutoWelcome]; r != nil && r.Enabled && c.FirstEver && !c.WelcomedBefore {
		out = append(out, store.AutoWelcome)
	}
	if r := nr.Replies[store.AutoAway]; r != nil && r.Enabled && nr.Hours != nil && !nr.Hours.Open(now) {
		out = append(out, store.AutoAway)
	}
	return out
}

// OpenState is what the inbox shows about a number's hours.
type OpenState struct {
	Known       bool // business hours are set
	Open        bool
	NextOpening time.Time
	Holiday     string
}

// State tells whether a number is open at now.
func (rules Rules) State(pnid string, now time.Time) OpenState {
	nr := rules[pnid]
	if nr == nil || nr.Hours == nil {
		return OpenState{}
	}
	st := OpenState{Known: true, Open: nr.Hours.Open(now)}
	if !st.Open {
		st.NextOpening, _ = nr.Hours.NextOpening(now)
		st.Holiday, _ = nr.Hours.Holiday(now)
	}
	return st
}

var nilLogger = slog.New(slog.DiscardHandler)
