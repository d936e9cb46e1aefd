package web

import "time"

// PrivacyVM is the data protection page: retention, jobs, the record of
// processing activities.
type PrivacyVM struct {
	Policies   []RetentionVM
	MediaFiles int // media files the next run would unlink
	Jobs       []JobVM
	Activities []ActivityVM
	Processors []string
	Measures   []string
	Stop       StopWordsVM
}

// StopWordsVM is the form for the words that opt a customer out of
// marketing and the one-time confirmation they get.
type StopWordsVM struct {
	Words        string // one per line
	Reply        string // empty: the default text applies
	DefaultReply string
	Error        string
}

// ConsentForm records a consent decision from the contact page.
type ConsentForm struct {
	CanRecord bool
	Purpose   string
	Action    string
	Source    string
	Evidence  string
	Error     string
}

// ConsentSources are what the panel offers as where a consent came from.
var ConsentSources = []string{"web_form", "agent", "paper", "phone", "email"}

// SecureLinksVM is the secure-link box of a conversation.
type SecureLinksVM struct {
	On      bool   // a public address is configured
	CanUse  bool   // the viewer may create links here
	CanSend bool   // sending is set up and the 24-hour window is open
	NewURL  string // a link just created, shown this once for copying
	Prompt  string // the prompt typed, kept after an error
	Links   []SecureLinkVM
}

// SecureLinkVM is one link handed out in a conversation.
type SecureLinkVM struct {
	Prompt  string
	State   string // open, answered, expired
	Created time.Time
	Expires time.Time
	By      string
}

// RetentionVM is one retention policy with what is due under it now.
type RetentionVM struct {
	Class  string
	Label  string
	Number string // phone_number_id; empty for all numbers
	Days   int
	Due    int64 // rows past the policy right now (dry run)
}

// JobVM is a scheduled job.
type JobVM struct {
	Name       string
	Next       time.Time
	LastAt     time.Time
	LastResult string
	LastError  string
}

// ActivityVM is one entry of the record of processing activities.
type ActivityVM struct {
	Name, Purpose, LegalBasis, Subjects, Categories, Recipients, ThirdCountry, Retention, Location string
}
