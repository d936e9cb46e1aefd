package web

import "time"

// NumberHealthVM is one business number's standing at Meta.
type NumberHealthVM struct {
	PhoneNumberID string
	Quality       string // GREEN, YELLOW, RED, NA, "" unknown
	Tier          string
	Throughput    string
	NameStatus    string
	VerifiedName  string
	Account       string
	LocalStorage  string // "an (DE)", "aus", "" unknown
	StorageEU     bool
	StorageRegion string
	LastWebhook   time.Time
	ReadAt        time.Time
	ReadError     string
}

// HealthVM is the health page: alarms, numbers, alarm mail.
type HealthVM struct {
	Alarms      []AlarmVM
	Numbers     []NumberHealthVM
	MailPending int
	MailSent    int
	MailFailing bool
	MailError   string
	SMTP        SMTPFormVM
	Saved       bool
}

// SMTPFormVM is the mail server form; the password is never shown.
type SMTPFormVM struct {
	Host, Port, Security, User, From, To string
	PasswordSet                          bool
}

// CostRowVM is one line of the cost page.
type CostRowVM struct {
	Month, PhoneNumberID, Category, Country, Agent string
	KnownCategory                                  bool
	Messages, Billable                             int
	Cost                                           string // "" when no rate is known
	Currency                                       string
}

// CostsVM is the cost page.
type CostsVM struct {
	From, To   string
	Rows       []CostRowVM
	Totals     map[string]string // currency → sum
	RatesText  string            // the rate table, one rate per line
	RatesDate  string
	Saved      bool
	TotalCount int
}
