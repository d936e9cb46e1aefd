package panel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

func TestContactCreateEditAndBadInput(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	auditor := addUser(t, g.Store, "pruef@example.de", store.RoleAuditor)
	_ = auditor
	if _, err := g.Store.SaveContactField(ctx, store.ContactField{Key: "tarif", Label: "Tarif", Kind: store.FieldChoice, Choices: []string{"Basis", "Premium"}}, "system", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Store.SaveContactField(ctx, store.ContactField{Key: "geburtstag", Label: "Geburtstag", Kind: store.FieldDate}, "system", time.Now()); err != nil {
		t.Fatal(err)
	}
	vip, _ := g.Store.CreateLabel(ctx, "VIP", "red")
	b := newBrowser(t, g.Public.URL)
	b.login("agent@example.de")

	// A German mobile number typed the German way is stored in E.164.
	p := b.post("/contacts/new", url.Values{"phone": {"0151 2345 6789"}, "name": {"Jörg Müller"}, "email": {"joerg@example.de"},
		"company": {"Bäckerei Müller"}, "field.tarif": {"Premium"}, "field.geburtstag": {"1980-02-03"}, "label": {fmt.Sprint(vip.ID)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	c, err := g.Store.ContactByKey(ctx, "4915123456789")
	if err != nil || c.Name != "Jörg Müller" {
		t.Fatalf("created %+v %v", c, err)
	}
	page := b.get(p.header.Get("Location"))
	for _, want := range []string{"Bäckerei Müller", "Premium", "1980-02-03", "VIP", "+4915123456789"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("contact page lacks %q", want)
		}
	}
	// Bad input: a German message at the field, 422, nothing stored.
	for _, tc := range []struct {
		form  url.Values
		field string
		want  string
	}{
		{url.Values{"phone": {"0151-ABC"}}, "phone", "Keine gültige Telefonnummer"},
		{url.Values{"phone": {"+4915199999999"}, "email": {"kein@"}}, "email", "Keine gültige E-Mail-Adresse"},
		{url.Values{"phone": {"+4915199999999"}, "field.tarif": {"Gold"}}, "field.tarif", "nicht zur Auswahl"},
		{url.Values{"phone": {"+49 151 23456789"}}, "phone", "Schon vergeben"},
		{url.Values{"name": {"Nur Name"}}, "phone", "Bitte ausfüllen"},
	} {
		p := b.post("/contacts/new", tc.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-testid="error-`+tc.field+`"`) || !strings.Contains(p.body, tc.want) {
			t.Errorf("%v: %d, want the error at %s with %q", tc.form, p.status, tc.field, tc.want)
		}
	}
	n := 0
	g.Store.ContactIDsMatching(ctx, store.ContactFilter{}, func(int64) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d contacts after refused input", n)
	}
	// Edit: a refused edit changes nothing; a good one is saved.
	p = b.post(fmt.Sprintf("/contacts/%d/edit", c.ID), url.Values{"phone": {"+4915123456789"}, "name": {"Jörg Müller"}, "email": {"x"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad edit: %d", p.status)
	}
	if d, _ := g.Store.ContactDetails(ctx, c.ID); d.Email != "joerg@example.de" || d.Fields["tarif"] != "Premium" {
		t.Fatalf("a refused edit changed %+v", d)
	}
	p = b.post(fmt.Sprintf("/contacts/%d/edit", c.ID), url.Values{"phone": {"+4915123456789"}, "name": {"Jörg Müller"},
		"email": {"neu@example.de"}, "field.tarif": {"Basis"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", p.status, p.body)
	}
	if d, _ := g.Store.ContactDetails(ctx, c.ID); d.Email != "neu@example.de" || d.Fields["tarif"] != "Basis" || len(d.Labels) != 0 {
		t.Fatalf("after edit %+v", d)
	}
	// Filters: by label, by field, by German number.
	if list := b.get("/contacts?field=tarif&value=basis"); !strings.Contains(list.body, "Jörg Müller") {
		t.Fatal("field filter misses the contact")
	}
	if list := b.get("/contacts?field=tarif&value=Gold"); list.status != http.StatusBadRequest || !strings.Contains(list.body, "nicht zur Auswahl") {
		t.Fatalf("bad filter: %d", list.status)
	}
	if list := b.get("/contacts?q=0151+23456789"); !strings.Contains(list.body, "Jörg Müller") {
		t.Fatal("search by a German number misses the contact")
	}
	// Agents may not import, define fields or export.
	for _, path := range []string{"/contacts/import", "/contacts/fields"} {
		if p := b.get(path); p.status != http.StatusForbidden && p.status != http.StatusNotFound {
			t.Errorf("agent GET %s: %d", path, p.status)
		}
	}
	if p := b.post("/contacts/export", url.Values{}); p.status == http.StatusOK {
		t.Error("agent exported the address book")
	}
}

func TestContactMergeInPanel(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4917612345678", "Erika", "wamid.m1", time.Now().Unix(), "Hallo"))
	byPhone, _ := g.Store.ContactByKey(ctx, "4917612345678")
	other, err := g.Store.CreateContact(ctx, store.ContactInput{UserID: ptr("DE.998877"), Name: ptr("erika_m"), Email: ptr("erika@example.de")}, "system", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Store.RecordConsent(ctx, store.ConsentRecord{ContactID: other.ID, Purpose: store.PurposeMarketing, Action: store.OptIn, Source: "web_form", Evidence: "Formular 12"}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, g.Public.URL)
	b.login("admin@example.de")
	p := b.post(fmt.Sprintf("/contacts/%d/merge", byPhone.ID), url.Values{"other": {"DE.998877"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("merge: %d", p.status)
	}
	got, _ := g.Store.ContactByID(ctx, byPhone.ID)
	if got.UserID != "DE.998877" {
		t.Fatalf("survivor %+v", got)
	}
	if recs, _ := g.Store.ConsentRecords(ctx, byPhone.ID); len(recs) != 1 {
		t.Fatalf("consent records %d", len(recs))
	}
	if _, err := g.Store.ContactByID(ctx, other.ID); err == nil {
		t.Fatal("the merged contact is still there")
	}
	log, _ := g.Store.AuditLog(ctx, 0, 20)
	found := false
	for _, e := range log {
		found = found || e.Action == store.AuditContactMerge
	}
	if !found {
		t.Fatal("merge not audited")
	}
}

func ptr(s string) *string { return &s }

// TestBrowserContactImportWithConsent: an admin imports a CSV from German
// Excel (Windows-1252, ;) with a consent column, checks the dry run,
// imports, and sees the contacts and their consent records.
func TestBrowserContactImportWithConsent(t *testing.T) {
	root := chrome(t)
	g := testenv.New(t, testenv.Options{})
	addNamedUser(t, g.Store, "Anna Berger", "anna@example.de", store.RoleAdmin)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "Kunden März.csv")
	// Windows-1252: \xfc ü, \xe4 ä, \xdf ß.
	data := "Vorname;Nachname;Handy;Firma;Werbeeinwilligung;Einwilligungsdatum\r\n" +
		"J\xfcrgen;M\xfcller;0151 2345678;B\xe4ckerei M\xfcller;ja;03.02.2026\r\n" +
		"\xc4nne;Wei\xdf;0160 9876543;;nein;\r\n"
	if err := os.WriteFile(csvPath, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	tab := person(t, root)
	do(t, tab,
		chromedp.Navigate(g.Public.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "anna@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`nav`)),
		chromedp.Navigate(g.Public.URL+"/contacts"),
		chromedp.Click(chromedp.CSS(`[data-testid=contact-import]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=import-upload]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=import-upload] input[type=file]`), []string{csvPath}),
		chromedp.Click(chromedp.CSS(`[data-testid=import-upload] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=import-mapping]`)),
	)
	waitText(t, tab, `[data-testid=import-file]`, "Windows-1252")
	waitText(t, tab, `[data-testid=import-preview]`, "Bäckerei Müller")
	if v, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid=map-4]').value`)); v != "consent_marketing" {
		t.Fatalf("consent column mapped to %q", v)
	}
	// The dry run stores nothing.
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=import-dry-run]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=import-result]`)))
	waitText(t, tab, `[data-testid=import-result]`, "Probelauf")
	waitText(t, tab, `[data-testid=import-result]`, "2 neue Kontakte")
	if _, err := g.Store.ContactByKey(context.Background(), "491512345678"); err == nil {
		t.Fatal("the dry run stored a contact")
	}
	shot(t, tab, "60-contact-import-dry-run")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=import-run]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=import-result]`)))
	waitText(t, tab, `[data-testid=import-result]`, "Importiert.")
	waitText(t, tab, `[data-testid=import-result]`, "2 Einwilligungen")
	// The list shows them; the contact page shows the consent from the import.
	do(t, tab, chromedp.Navigate(g.Public.URL+"/contacts"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=contact-rows]`)))
	waitText(t, tab, `[data-testid=contact-rows]`, "Jürgen Müller")
	waitText(t, tab, `[data-testid=contact-rows]`, "Änne Weiß")
	c, err := g.Store.ContactByKey(context.Background(), "491512345678")
	if err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Navigate(fmt.Sprintf("%s/contacts/%d", g.Public.URL, c.ID)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=consents]`)))
	waitText(t, tab, `[data-testid=consents]`, "erteilt")
	waitText(t, tab, `[data-testid=consents]`, "Import")
	waitText(t, tab, `[data-testid=consents]`, "Kunden März.csv, Zeile 2")
	waitText(t, tab, `[data-testid=contact-book]`, "Bäckerei Müller")
	shot(t, tab, "61-contact-imported-consent")
	// On a phone the list is one card per contact.
	do(t, tab, chromedp.EmulateViewport(390, 844), chromedp.Navigate(g.Public.URL+"/contacts"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=contact-rows]`)))
	if w, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
		t.Fatalf("the contacts list is %d px wide on a 390 px phone", w)
	}
	shot(t, tab, "62-contacts-phone")
}

// TestRequestNumberThroughTheOutbox: a customer known only by a BSUID is
// asked for their number with Meta's request_contact_info message; it
// leaves through the outbox and the simulator accepts it like Meta.
func TestRequestNumberThroughTheOutbox(t *testing.T) {
	sg := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{EnforceWindow: true, StatusDelay: -1}})
	g := sg.Gateway
	ctx := context.Background()
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	kim := simulator.Customer{UserID: "DE.1234567890", Name: "kim_k"}
	if _, st, err := sg.Sim.Write(ctx, kim, "text"); err != nil || st != 200 {
		t.Fatalf("customer writes: %d %v", st, err)
	}
	c, err := g.Store.ContactByKey(ctx, kim.UserID)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, g.Public.URL)
	b.login("agent@example.de")
	page := b.get(fmt.Sprintf("/contacts/%d", c.ID))
	if !strings.Contains(page.body, `data-testid="request-number"`) {
		t.Fatal("no request for the number offered for a BSUID-only contact")
	}
	p := b.post(fmt.Sprintf("/contacts/%d/request-number", c.ID), url.Values{"number": {sg.Sim.Options().PhoneNumberID}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("request: %d %s", p.status, p.body)
	}
	body := waitSent(t, sg.Sim, "interactive", 1)
	for _, want := range []string{`"recipient":"DE.1234567890"`, `"type":"request_contact_info"`, `"action":{"name":"request_contact_info"}`, `"body":{"text":"Damit wir Sie`} {
		if !strings.Contains(body, want) {
			t.Errorf("sent body lacks %s: %s", want, body)
		}
	}
	// The simulator refuses what Meta refuses: no body text.
	bad := []byte(`{"messaging_product":"whatsapp","recipient":"DE.1234567890","type":"interactive","interactive":{"type":"request_contact_info","action":{"name":"request_contact_info"}}}`)
	req, _ := http.NewRequest("POST", sg.GraphAPI.URL+"/v23.0/"+sg.Sim.Options().PhoneNumberID+"/messages", strings.NewReader(string(bad)))
	req.Header.Set("Authorization", "Bearer "+sg.Sim.Options().AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a request without body text: %d", resp.StatusCode)
	}
	log, _ := g.Store.AuditLog(ctx, 0, 20)
	found := false
	for _, e := range log {
		found = found || e.Action == store.AuditContactInfoRequest
	}
	if !found {
		t.Fatal("the request is not audited")
	}
}

// TestSharedNumberFillsTheContact: a customer known only by BSUID who taps
// "share my number" under Pforte's request gets that number in the
// address book, audited. A customer who was never asked, or a number that
// another contact already has, changes nothing.
func TestSharedNumberFillsTheContact(t *testing.T) {
	sg := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: -1}})
	g := sg.Gateway
	ctx := context.Background()
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	kim := simulator.Customer{UserID: "DE.1234567890", Name: "kim_k"}
	uwe := simulator.Customer{UserID: "DE.5550001111", Name: "uwe"}
	for _, c := range []simulator.Customer{kim, uwe} {
		if _, st, err := sg.Sim.Write(ctx, c, "text"); err != nil || st != 200 {
			t.Fatalf("customer writes: %d %v", st, err)
		}
	}
	ck, err := g.Store.ContactByKey(ctx, kim.UserID)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, g.Public.URL)
	b.login("agent@example.de")
	if p := b.post(fmt.Sprintf("/contacts/%d/request-number", ck.ID), url.Values{"number": {sg.Sim.Options().PhoneNumberID}}); p.status != http.StatusSeeOther {
		t.Fatalf("request: %d", p.status)
	}
	waitSent(t, sg.Sim, "interactive", 1)

	// Uwe was never asked: his card (in reply to nothing of ours) is kept
	// as a message but does not become his number.
	if _, st, err := sg.Sim.WriteLine(ctx, uwe, simulator.Line{Kind: "share_number", Phone: "4915199990000"}); err != nil || st != 200 {
		t.Fatalf("uwe shares: %d %v", st, err)
	}
	if c, _ := g.Store.ContactByKey(ctx, uwe.UserID); c == nil || c.WaID != "" {
		t.Fatalf("a card nobody asked for became a number: %+v", c)
	}
	if _, st, err := sg.Sim.WriteLine(ctx, kim, simulator.Line{Kind: "share_number", Phone: "4915112345000"}); err != nil || st != 200 {
		t.Fatalf("kim shares: %d %v", st, err)
	}
	c, err := g.Store.ContactByKey(ctx, kim.UserID)
	if err != nil || c.WaID != "4915112345000" || c.ID != ck.ID {
		t.Fatalf("the shared number is not Kim's: %+v %v", c, err)
	}
	log, _ := g.Store.AuditLog(ctx, 0, 50)
	shared := 0
	for _, e := range log {
		if e.Action == store.AuditContactNumberShared {
			shared++
			if e.Target != fmt.Sprintf("contact:%d", ck.ID) || e.Actor != store.ActorCustomer {
				t.Errorf("audit entry %+v", e)
			}
		}
	}
	if shared != 1 {
		t.Fatalf("%d number.shared audit entries, want 1", shared)
	}
	if p := b.get(fmt.Sprintf("/contacts/%d", ck.ID)); !strings.Contains(p.body, "4915112345000") && !strings.Contains(p.body, "+49 151 12345000") {
		t.Error("the contact page does not show the shared number")
	}

	// Uwe, asked now, shares Kim's number: it stays Kim's.
	cu, _ := g.Store.ContactByKey(ctx, uwe.UserID)
	if p := b.post(fmt.Sprintf("/contacts/%d/request-number", cu.ID), url.Values{"number": {sg.Sim.Options().PhoneNumberID}}); p.status != http.StatusSeeOther {
		t.Fatalf("request to uwe: %d", p.status)
	}
	waitSent(t, sg.Sim, "interactive", 2)
	if _, st, err := sg.Sim.WriteLine(ctx, uwe, simulator.Line{Kind: "share_number", Phone: "4915112345000"}); err != nil || st != 200 {
		t.Fatalf("uwe shares: %d %v", st, err)
	}
	if c, _ := g.Store.ContactByKey(ctx, uwe.UserID); c == nil || c.WaID != "" {
		t.Fatalf("a number another contact has moved: %+v", c)
	}
}
