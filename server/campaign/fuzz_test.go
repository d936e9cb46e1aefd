package campaign_test

import (
	"strings"
	"testing"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/store"
)

// FuzzParseRecipientCSV: any upload either parses or is refused with a
// field error; every parsed key is non-empty and a header row never
// becomes a recipient.
func FuzzParseRecipientCSV(f *testing.F) {
	for _, s := range []string{"nummer,vorname\n+49 151 1234567,Anna\n", "4915112345678;x\n", "\"unclosed\n", "", "\n\n,\n", "491511,\"a,b\",c\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := campaign.ParseRecipientCSV(strings.NewReader(s))
		if err != nil {
			var fe *campaign.FieldError
			if !asField(err, &fe) || fe.Field != "csv" || fe.DE == "" {
				t.Fatalf("refusal is not a csv field error: %v", err)
			}
			return
		}
		for k := range m {
			if strings.TrimSpace(k) == "" {
				t.Fatalf("empty key from %q", s)
			}
		}
	})
}

// FuzzMatchKeyword: matching never panics, and a keyword always matches
// itself in other case and with surrounding space.
func FuzzMatchKeyword(f *testing.F) {
	f.Add("Newsletter", "  newsletter! ")
	f.Add("START", "start")
	f.Add("Ja bitte", "ja   bitte")
	f.Fuzz(func(t *testing.T, kw, text string) {
		entries := []store.OptInEntry{{ID: 1, Keyword: kw}}
		campaign.MatchKeyword(entries, text, "1")
		if strings.TrimSpace(strings.Trim(strings.TrimSpace(kw), ".!?,;:\"'")) != "" && campaign.MatchKeyword(entries, " "+strings.ToUpper(kw)+" ", "1") == nil &&
			strings.ToLower(strings.ToUpper(kw)) == strings.ToLower(kw) {
			t.Fatalf("keyword %q does not match itself", kw)
		}
	})
}

func asField(err error, fe **campaign.FieldError) bool {
	e, ok := err.(*campaign.FieldError)
	*fe = e
	return ok
}
