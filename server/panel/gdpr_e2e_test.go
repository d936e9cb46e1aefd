package panel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestBrowserConsentAndSecureLink: an agent records a customer's
// marketing consent on the contact page and creates a one-time secure
// link in the conversation, which then opens for the customer.
func TestBrowserConsentAndSecureLink(t *testing.T) {
	root := chrome(t)
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4917612345678", "Erika Mustermann", "wamid.e2e.1", time.Now().Unix(), "Wohin soll ich den Ausweis schicken?"))
	contact := contactID(t, g.Store, "4917612345678")
	conv := conversationID(t, g.Store, "4917612345678")
	base := g.Public.URL

	tab := person(t, root)
	do(t, tab,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "lea@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		chromedp.Navigate(fmt.Sprintf("%s/contacts/%d", base, contact)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=consent-form]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid=consent-form] select[name=source]`), "paper"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=consent-form] textarea[name=evidence]`), "Bogen 4711, Ordner Werbung 2026"),
		chromedp.Click(chromedp.CSS(`[data-testid=consent-submit]`)),
	)
	waitText(t, tab, `[data-testid=consents]`, "Bogen 4711, Ordner Werbung 2026")
	waitText(t, tab, `[data-testid=consents]`, "Lea Schmidt")
	shot(t, tab, "30-contact-consent")
	rs, err := g.Store.ConsentRecords(ctx, contact)
	if err != nil || len(rs) != 1 || rs[0].Purpose != "marketing" || rs[0].Action != "opt_in" || rs[0].Source != "paper" || rs[0].Actor != store.UserActor(agent.ID) {
		t.Fatalf("consent records: %+v %v", rs, err)
	}
	if err := g.Store.CheckMarketingConsent(ctx, contact); err != nil {
		t.Fatalf("marketing consent: %v", err)
	}

	// The secure link, created to copy.
	do(t, tab,
		chromedp.Navigate(fmt.Sprintf("%s/conversations/%d?assigned=all&status=all", base, conv)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secure-links] summary`)),
		chromedp.Click(chromedp.CSS(`[data-testid=secure-links] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secure-link-prompt]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=secure-link-prompt]`), "Bitte laden Sie hier Ihren Ausweis hoch."),
		chromedp.Click(chromedp.CSS(`[data-testid=secure-link-create]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=secure-link-url]`)),
	)
	link := strings.TrimSpace(text(t, tab, `[data-testid=secure-link-url]`))
	if !strings.HasPrefix(link, base+"/s/") {
		t.Fatalf("link %q", link)
	}
	waitText(t, tab, `[data-testid=secure-link-list]`, "Bitte laden Sie hier Ihren Ausweis hoch.")
	waitText(t, tab, `[data-testid=secure-link-list]`, "offen")
	shot(t, tab, "31-conversation-secure-link")
	ls, err := g.Store.SecureLinks(ctx, conv)
	if err != nil || len(ls) != 1 || ls[0].CreatedBy != store.UserActor(agent.ID) {
		t.Fatalf("links: %+v %v", ls, err)
	}
	// The customer opens it.
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Bitte laden Sie hier Ihren Ausweis hoch.") {
		t.Fatalf("answer page: %d", resp.StatusCode)
	}
}
