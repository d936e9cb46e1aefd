package campaign_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// segment gives customers the address book's label and custom fields.
func (e *env) segment(t *testing.T, c simulator.Customer, labelIDs []int64, fields map[string]string) {
	t.Helper()
	ct, err := e.Store.ContactByKey(e.ctx, c.WaID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.UpdateContact(e.ctx, ct.ID, store.ContactInput{Fields: fields, LabelIDs: &labelIDs}, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
}

func (e *env) fields(t *testing.T) int64 {
	t.Helper()
	for _, f := range []store.ContactField{{Key: "vorname", Label: "Vorname", Kind: store.FieldText}, {Key: "kunde_seit", Label: "Kunde seit", Kind: store.FieldDate}} {
		if _, err := e.Store.SaveContactField(e.ctx, f, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	l, err := e.Store.CreateLabel(e.ctx, "Stammkunde", "")
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}

// TestAudienceByContactLabelAndField builds an audience from the address
// book: contact label "Stammkunde" AND custom field kunde_seit = 1 March
// 2024 (given as 01.03.2024, stored as 2024-03-01). Only the consenting
// matching contact receives the template; non-matching contacts are not
// in the audience at all, matching ones without consent, withdrawn or
// restricted are excluded by reason, and one without a first name (bound
// to {{1}}) is skipped, never sent half-filled. The parameters bound to
// contact fields show in the preview and reach the fake Meta rendered.
func TestAudienceByContactLabelAndField(t *testing.T) {
	e := newEnv(t, false)
	label := e.fields(t)
	yes, never, otherDate, noLabel, withdrawn, restricted, noName := cust(21), cust(22), cust(23), cust(24), cust(25), cust(26), cust(27)
	all := []simulator.Customer{yes, never, otherDate, noLabel, withdrawn, restricted, noName}
	e.write(t, all...)
	match := map[string]string{"vorname": "Anna", "kunde_seit": "2024-03-01"}
	for _, c := range all {
		if c != never {
			e.consent(t, c, store.OptIn)
		}
	}
	e.segment(t, yes, []int64{label}, match)
	e.segment(t, never, []int64{label}, match)
	e.segment(t, otherDate, []int64{label}, map[string]string{"vorname": "Otto", "kunde_seit": "2023-03-01"})
	e.segment(t, noLabel, nil, match)
	e.segment(t, withdrawn, []int64{label}, match)
	e.segment(t, restricted, []int64{label}, match)
	e.segment(t, noName, []int64{label}, map[string]string{"kunde_seit": "2024-03-01"})
	e.consent(t, withdrawn, store.OptOut)
	rc, _ := e.Store.ContactByKey(e.ctx, restricted.WaID)
	if _, err := e.Store.SetHold(e.ctx, store.LegalHold{ContactID: rc.ID, Reason: "Rechnung, § 147 AO", CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.EraseContact(e.ctx, restricted.WaID, store.EraseRequest{Actor: "test", Reason: "Art. 17"}); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"name": "Treue", "phone_number_id": "106540352242922", "purpose": "marketing",
		"template": map[string]any{"name": "angebot", "language": "de", "parameters": []string{"{{field:vorname}}", "{{field:kunde_seit}}"}},
		"audience": map[string]any{"contact_labels": []string{"Stammkunde"}, "fields": map[string]string{"kunde_seit": "01.03.2024"}}, "start": "now"}

	b, _ := json.Marshal(body)
	st, out := e.API(t, http.MethodPost, "/api/v1/campaigns/preview", strings.NewReader(string(b)))
	if st != http.StatusOK {
		t.Fatalf("preview: %d %s", st, out)
	}
	var pv struct {
		Eligible int            `json:"eligible"`
		Skipped  int            `json:"skipped"`
		Excluded map[string]int `json:"excluded"`
		Messages []struct {
			Recipient string `json:"recipient"`
			Text      string `json:"text"`
		} `json:"messages"`
	}
	json.Unmarshal(out, &pv)
	if pv.Eligible != 1 || pv.Skipped != 1 || pv.Excluded["no_consent"] != 1 || len(pv.Messages) != 1 {
		t.Fatalf("preview = %s, want 1 eligible (%s), 1 without consent, 1 skipped (no first name)", out, yes.WaID)
	}
	if m := pv.Messages[0]; m.Recipient != yes.WaID || !strings.Contains(m.Text, "Anna") || !strings.Contains(m.Text, "01.03.2024") {
		t.Fatalf("preview message = %+v, want Anna and 01.03.2024 for %s", m, yes.WaID)
	}

	st, c := e.create(t, body)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, c)
	}
	by := c["counts"].(map[string]any)["excluded_by"].(map[string]any)
	if c["eligible"].(float64) != 1 || c["excluded"].(float64) != 3 || by["no_consent"].(float64) != 1 || by["withdrawn"].(float64) != 1 || by["restricted"].(float64) != 1 {
		t.Fatalf("eligible %v, excluded %v by %v; want 1 eligible, no_consent, withdrawn and restricted 1 each", c["eligible"], c["excluded"], by)
	}
	if sk := c["counts"].(map[string]any)["skipped"].(float64); sk != 1 {
		t.Fatalf("skipped = %v, want 1 (no first name)", sk)
	}
	testenv.Eventually(t, 10*time.Second, "sent", func() bool { return e.get(t, c["id"])["sent"].(float64) == 1 })
	got := e.templateSendsTo()
	if len(got) != 1 || got[yes.WaID] != 1 {
		t.Fatalf("template sends = %v, want exactly one to %s", got, yes.WaID)
	}
	for _, r := range e.Sim.Accepted() {
		if r.Type == "template" {
			var msg struct {
				Template struct {
					Components []struct {
						Parameters []struct{ Text string } `json:"parameters"`
					} `json:"components"`
				} `json:"template"`
			}
			json.Unmarshal(r.Body, &msg)
			if len(msg.Template.Components) == 0 || len(msg.Template.Components[0].Parameters) != 2 ||
				msg.Template.Components[0].Parameters[0].Text != "Anna" || msg.Template.Components[0].Parameters[1].Text != "01.03.2024" {
				t.Fatalf("what Meta received: %s", r.Body)
			}
		}
	}
}

// TestAudienceFieldErrors: an unknown field key in the audience or in a
// parameter is a 400 naming it; nothing is stored.
func TestAudienceFieldErrors(t *testing.T) {
	e := newEnv(t, false)
	e.fields(t)
	e.write(t, cust(31))
	e.consent(t, cust(31), store.OptIn)
	for _, tc := range []struct {
		params   []string
		audience map[string]any
		field    string
	}{
		{[]string{"x"}, map[string]any{"fields": map[string]string{"lieblingsfarbe": "rot"}}, "audience.fields.lieblingsfarbe"},
		{[]string{"x"}, map[string]any{"fields": map[string]string{"kunde_seit": "gestern"}}, "audience.fields.kunde_seit"},
		{[]string{"{{field:lieblingsfarbe}}"}, map[string]any{"contacts": []string{cust(31).WaID}}, "template.parameters"},
	} {
		body := map[string]any{"name": "X", "phone_number_id": "106540352242922",
			"template": map[string]any{"name": "angebot", "language": "de", "parameters": tc.params}, "audience": tc.audience}
		st, m := e.create(t, body)
		msg, _ := m["error"].(map[string]any)["message"].(string)
		if st != http.StatusBadRequest || !strings.Contains(msg, tc.field) {
			t.Errorf("%v: %d %v, want 400 naming %s", tc.audience, st, m, tc.field)
		}
	}
	list, _ := e.Store.Campaigns(e.ctx, 10)
	if len(list) != 0 {
		t.Fatalf("%d campaigns stored from bad input", len(list))
	}
}
