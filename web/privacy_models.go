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
