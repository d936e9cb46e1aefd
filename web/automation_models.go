package web

// AutomationsVM is the automations page.
type AutomationsVM struct {
	Numbers []NumberVM
	Number  string // the phone number id shown
	Status  string // "außerhalb der Geschäftszeiten, öffnet Mo 08:00"
	Hours   HoursFormVM
	States  []StateVM
	Replies []ReplyFormVM
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
	Enabled                      bool
	Text, TextEN                 string
	MinInterval, After           string
	PrivacyURL                   string
	Error                        string
}

// HoursStateVM is a number's business hours state in the inbox.
type HoursStateVM struct {
	Number string
	Text   string
	Open   bool
}
