package panel_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestBrowserCampaignSegmentAndParameterFile: in Chromium an admin
// uploads a parameter file as German Excel saves it (Windows-1252, ";",
// the number as 0176 …); the unknown number is listed as skipped with a
// German reason. Then a segment from the address book (contact label
// "Stammkunde" and field stadt = Köln) with {{field:vorname}} and the
// file's column 1 previews exactly the consenting matching customer with
// both values filled in; the one missing from the file is skipped.
func TestBrowserCampaignSegmentAndParameterFile(t *testing.T) {
	root := chrome(t)
	sg := testenv.NewSending(t, testenv.SendingOptions{
		Campaign: &campaign.Config{QuietFrom: 1, QuietTo: 1, SendOnSundaysAndHolidays: true, Tick: 50 * time.Millisecond},
	})
	g := sg.Gateway
	ctx := context.Background()
	sg.ApproveTemplate(t, "treue", "de", "MARKETING")
	if err := g.Store.SaveTemplateText(ctx, "treue", "de", "Hallo {{1}}, {{2}} Rabatt für Sie!"); err != nil {
		t.Fatal(err)
	}
	addNamedUser(t, g.Store, "Anna Berger", "anna@example.de", store.RoleAdmin)
	label, err := g.Store.CreateLabel(ctx, "Stammkunde", "green")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.ContactField{{Key: "vorname", Label: "Vorname", Kind: store.FieldText}, {Key: "stadt", Label: "Stadt", Kind: store.FieldText}} {
		if _, err := g.Store.SaveContactField(ctx, f, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	type who struct {
		name, vorname, stadt string
		consent              bool
	}
	people := []who{{"Erika Meier", "Erika", "Köln", true}, {"Korbinian Huber", "Korbinian", "München", true},
		{"Fiete Janßen", "Fiete", "Köln", false}, {"Ayşe Demir", "Ayşe", "Köln", true}}
	for i, p := range people {
		c := simulator.Customer{WaID: fmt.Sprintf("4917600000%02d", i), Name: p.name}
		if _, st, err := sg.Sim.WriteLine(ctx, c, simulator.Line{Text: "Hallo"}); err != nil || st != 200 {
			t.Fatal(st, err)
		}
		ct, _ := g.Store.ContactByKey(ctx, c.WaID)
		labels := []int64{label.ID}
		if err := g.Store.UpdateContact(ctx, ct.ID, store.ContactInput{Fields: map[string]string{"vorname": p.vorname, "stadt": p.stadt}, LabelIDs: &labels}, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
		if p.consent {
			if _, err := g.Store.RecordConsent(ctx, store.ConsentRecord{ContactID: ct.ID, Purpose: store.PurposeMarketing, Action: store.OptIn,
				Source: "web_form", Evidence: "Formular", Actor: "test"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Erika (0176 000 0000) and Korbinian have a row; 0176 999 9999 is nobody.
	file := filepath.Join(t.TempDir(), "rabatt.csv")
	if err := os.WriteFile(file, []byte("Telefon;Erm\xe4\xdfigung\r\n0176 000 0000;20 %\r\n0176 000 0001;10 %\r\n0176 999 9999;5 %\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := g.Public.URL
	tab := person(t, root)
	do(t, tab,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "anna@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.nav`)),
		chromedp.Navigate(base+"/campaigns"),
		chromedp.WaitVisible(chromedp.CSS(`#new-campaign`)),
		chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=campaign-csv-upload] input[type=file]`), []string{file}),
		chromedp.Click(chromedp.CSS(`[data-testid=campaign-csv-upload] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=campaign-skipped-rows]`)),
	)
	waitText(t, tab, `[data-testid=campaign-skipped-rows]`, "kein bekannter Kontakt")
	if csv := text(t, tab, `[data-testid=campaign-recipient-csv]`); strings.Contains(csv, "999") {
		t.Fatalf("the skipped row was carried on: %q", csv)
	}
	do(t, tab,
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Treue"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=parameters]`), "{{field:vorname}}\n{{1}}"),
		chromedp.Click(chromedp.CSS(`input[name=contact_labels][value=Stammkunde]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=segment-field-stadt]`), "Köln"),
		chromedp.Click(chromedp.CSS(`[data-testid=campaign-preview]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=campaign-preview-box]`)),
	)
	if got := strings.TrimSpace(text(t, tab, `[data-testid=preview-eligible]`)); got != "1" {
		t.Fatalf("preview audience = %q, want 1 (Erika: Köln, consent, in the file)", got)
	}
	box := text(t, tab, `[data-testid=campaign-preview-box]`)
	if !strings.Contains(box, "Hallo Erika, 20 % Rabatt") || !strings.Contains(box, "1 übersprungen") || !strings.Contains(box, "1 ausgeschlossen") {
		t.Fatalf("preview box: %q", box)
	}
	shot(t, tab, "campaign-segment-preview")
	if n := len(sg.Sim.Accepted()); n != 0 {
		t.Fatalf("the preview sent %d messages", n)
	}
}
