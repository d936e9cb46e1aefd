package web

import "context"

// CampaignsVM is the campaign list with the form to create one.
type CampaignsVM struct {
	Items     []CampaignRowVM
	CanCreate bool
	Form      CampaignFormVM
	Templates []string // "name|language" of approved MARKETING templates
	Numbers   []string // phone number ids
	Labels    []string
	Fields    []CampaignFieldVM    // custom fields for the segment builder and {{field:key}}
	Skipped   []CampaignSkippedRow // rows of the parameter file that are not used
	Error     string               // a German sentence
	ErrorEN   string               // the same in English
	Field     string
	Preview   *CampaignPreviewVM
}

// CampaignFormVM keeps what the admin typed, to show it again.
type CampaignFormVM struct {
	Name, Number, Template, Parameters, Contacts, Start string
	Labels                                              []string
	ContactLabels                                       []string
	Fields                                              map[string]string // custom field key → wanted value
	RecipientCSV                                        string            // usable rows of the parameter file, UTF-8 with ";"
}

// CampaignFieldVM is a custom field the segment builder offers.
type CampaignFieldVM struct{ Key, Label string }

// CampaignSkippedRow is a row of a parameter file that is not used, and why.
type CampaignSkippedRow struct {
	Line     int
	Number   string
	Reason   string // German
	ReasonEN string
}

// CampaignPreviewVM is the audience count, the first messages and the cost.
type CampaignPreviewVM struct {
	Eligible, Excluded, Skipped int
	Cost                        string
	QuietUntil                  string
	Messages                    []CampaignPreviewMessage
}

// CampaignPreviewMessage is one recipient's rendered message.
type CampaignPreviewMessage struct{ Recipient, Text string }

// CampaignRowVM is one campaign with its counts.
type CampaignRowVM struct {
	ID                                                                 int64
	Name, Status, PauseReason, Template, Cost                          string
	Eligible, Excluded, Skipped, Queued, Sent, Delivered, Read, Failed int
	OptedOut, Stopped, Pending                                         int
	Alarm                                                              string
}

// CampaignDetailVM is one campaign's page.
type CampaignDetailVM struct {
	Row       CampaignRowVM
	CanManage bool
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func campaignStatus(ctx context.Context, s string) string {
	switch s {
	case "scheduled":
		return T(ctx, "geplant")
	case "running":
		return T(ctx, "läuft")
	case "paused":
		return T(ctx, "angehalten")
	case "cancelled":
		return T(ctx, "abgebrochen")
	case "done":
		return T(ctx, "abgeschlossen")
	}
	return s
}

func campaignAction(ctx context.Context, a string) string {
	switch a {
	case "pause":
		return T(ctx, "Anhalten")
	case "resume":
		return T(ctx, "Fortsetzen")
	}
	return T(ctx, "Abbrechen")
}

// localized picks the German or English sentence of a message that was
// built with values in it (so no translation table can hold it).
func localized(ctx context.Context, de, en string) string {
	if Lang(ctx) == "en" && en != "" {
		return en
	}
	return de
}

// countsTrigger is how often the live counts reload.
func countsTrigger(r CampaignRowVM) string {
	every := "every 10s"
	if r.Status == "running" || r.Status == "scheduled" || r.Queued > 0 {
		every = "every 2s"
	}
	return every
}

// OptInVM is the opt-in entry points page.
type OptInVM struct {
	Entries        []OptInEntryVM
	Error, ErrorEN string
}

// OptInEntryVM is one entry point with its link and snippet.
type OptInEntryVM struct {
	ID                                int64
	Name, Keyword, Confirmation, Link string
	Snippet                           string
}
