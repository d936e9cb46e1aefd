package web

import (
	"context"
	"time"
)

// AutomationsVM is the automations page.
type AutomationsVM struct {
	Numbers []NumberVM
	Number  string // the phone number id shown
	Status  string // "außerhalb der Geschäftszeiten, öffnet Mo 08:00"
	Hours   HoursFormVM
	States  []StateVM
	Replies []ReplyFormVM
	CSAT    CSATFormVM
	Routing RoutingVM
}

// CSATFormVM is the satisfaction survey form.
type CSATFormVM struct {
	Enabled                    bool
	Scale                      string
	Question, QuestionEN       string
	Template, TemplateLanguage string
	Error                      string
}

// HoursFormVM is the business hours form, as stored or as typed.
type HoursFormVM struct {
	Timezone string
	State    string
	Days     []DayFormVM
	Closed   string
	Error    string
}

// DayFormVM is one week day's ranges as text.
type DayFormVM struct {
	Key, Label, Value string
}

// StateVM is a Bundesland.
type StateVM struct{ Code, Name string }

// ReplyFormVM is one automatic reply's form.
type ReplyFormVM struct {
	Kind, Title, Hint, Variables string
	AfterLabel                   string // waiting and nudge: what the time means
	Enabled                      bool
	Text, TextEN                 string
	MinInterval, After           string
	PrivacyURL                   string
	Error                        string
}

// ReminderVM is an assigned conversation whose window runs out while the
// customer waits.
type ReminderVM struct {
	ConversationID int64
	Name           string
	Ends           string
}

// HoursStateVM is a number's business hours state in the inbox.
type HoursStateVM struct {
	Number string
	Text   string
	Open   bool
}

// Clock formats a time as messages show it (today's time, else date and time).
func Clock(ctx context.Context, t time.Time) string { return clock(ctx, t) }
