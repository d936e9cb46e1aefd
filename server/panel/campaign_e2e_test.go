package panel_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestBrowserCampaignFromSegment: an admin builds a campaign from a label
// segment in Chromium, sees the preview (audience count without the
// customer who never consented, the first rendered messages, the
// expected cost), starts it and watches the counts rise live as the
// simulator's receipts arrive.
func TestBrowserCampaignFromSegment(t *testing.T) {
	root := chrome(t)
	sg := testenv.NewSending(t, testenv.SendingOptions{
		Sim:      simulator.Options{StatusDelay: 300 * time.Millisecond},
		Campaign: &campaign.Config{QuietFrom: 1, QuietTo: 1, SendOnSundaysAndHolidays: true, Tick: 50 * time.Millisecond},
	})
	g := sg.Gateway
	ctx := context.Background()
	sg.ApproveTemplate(t, "adventsangebot", "de", "MARKETING")
	if err := g.Store.SaveTemplateText(ctx, "adventsangebot", "de", "Hallo {{1}}, 20 % auf alles bis Sonntag!"); err != nil {
		t.Fatal(err)
	}
	addNamedUser(t, g.Store, "Anna Berger", "anna@example.de", store.RoleAdmin)
	label, err := g.Store.CreateLabel(ctx, "Stammkunde", "green")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"Erika Meier", "Korbinian Huber", "Fiete Janßen", "Ayşe Demir"}
	for i, n := range names {
		c := simulator.Customer{WaID: fmt.Sprintf("4917600000%02d", i), Name: n}
		if _, st, err := sg.Sim.WriteLine(ctx, c, simulator.Line{Text: "Hallo"}); err != nil || st != 200 {
			t.Fatal(st, err)
		}
		if err := g.Store.SetConversationLabel(ctx, conversationID(t, g.Store, c.WaID), label.ID, true); err != nil {
			t.Fatal(err)
		}
		if i < 3 { // Ayşe never consented
			ct, _ := g.Store.ContactByKey(ctx, c.WaID)
			if _, err := g.Store.RecordConsent(ctx, store.ConsentRecord{ContactID: ct.ID, Purpose: store.PurposeMarketing, Action: store.OptIn,
				Source: "web_form", Evidence: "Formular", Actor: "test"}); err != nil {
				t.Fatal(err)
			}
		}
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
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Advent"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=parameters]`), "{{name}}"),
		chromedp.Click(chromedp.CSS(`input[name=labels][value=Stammkunde]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=campaign-preview]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=campaign-preview-box]`)),
	)
	if got := strings.TrimSpace(text(t, tab, `[data-testid=preview-eligible]`)); got != "3" {
		t.Fatalf("preview audience = %q, want 3 (Ayşe has no consent)", got)
	}
	waitText(t, tab, `[data-testid=campaign-preview-box]`, "Hallo Erika Meier, 20 % auf alles")
	waitText(t, tab, `[data-testid=preview-cost]`, "EUR")
	if n := len(sg.Sim.Accepted()); n != 0 {
		t.Fatalf("the preview sent %d messages", n)
	}
	shot(t, tab, "campaign-preview")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=campaign-start]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=campaign-counts]`)))
	if !strings.Contains(location(t, tab), "/campaigns/") {
		t.Fatalf("after start: %s", location(t, tab))
	}
	// The counts refresh themselves (htmx every 2 s) up to three read.
	waitText(t, tab, `[data-testid=count-excluded]`, "1")
	expr := `(function(){var e=document.querySelector('[data-testid=count-read]');return !!e && e.innerText.trim()==='3'})()`
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("live count of read messages did not reach 3: %v (%q)", err, text(t, tab, `[data-testid=campaign-counts]`))
	}
	waitText(t, tab, `[data-testid=campaign-status]`, "abgeschlossen")
	shot(t, tab, "campaign-live-counts")
	sent := map[string]bool{}
	for _, r := range sg.Sim.Accepted() {
		if r.Type == "template" {
			sent[r.To] = true
		}
	}
	if len(sent) != 3 || sent["491760000003"] {
		t.Fatalf("template sends to %v, want the three consenting customers", sent)
	}
}
