package panel_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// The automations page refuses bad input in German and saves nothing
// (an unapproved survey template, an unknown time zone), and an agent's
// inbox shows a customer waiting as the 24-hour window runs out.
func TestAutomationsPageAndWindowReminder(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	addNamedUser(t, g.Store, "Chefin", "chefin@example.de", store.RoleAdmin)
	agent := addNamedUser(t, g.Store, "Lea", "lea@example.de", store.RoleAgent)
	// Erika wrote 23 hours and 10 minutes ago and waits for Lea.
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915112345678", "Erika", "wamid.r1",
		time.Now().Add(-23*time.Hour-10*time.Minute).Unix(), "Wann kommt mein Paket?"))
	conv := conversationID(t, g.Store, "4915112345678")
	if err := g.Store.Assign(ctx, conv, agent.ID); err != nil {
		t.Fatal(err)
	}

	admin := newBrowser(t, g.Public.URL)
	admin.login("chefin@example.de")
	p := admin.get("/automations")
	if p.status != 200 || !strings.Contains(p.body, `data-testid="reply-away"`) || !strings.Contains(p.body, "Geld kosten") {
		t.Fatalf("page: %d", p.status)
	}
	p = admin.post("/automations/106540352242922/csat", url.Values{"enabled": {"1"}, "scale": {"thumbs"},
		"template": {"zufriedenheit"}, "template_language": {"de"}})
	if p.status != 422 || !strings.Contains(p.body, "ist nicht von Meta freigegeben") {
		t.Fatalf("unapproved template: %d %s", p.status, p.body[:min(len(p.body), 300)])
	}
	p = admin.post("/automations/106540352242922/hours", url.Values{"timezone": {"Europe/Bärlin"}, "mon": {"08:00-12:00"}})
	if p.status != 422 || !strings.Contains(p.body, "gibt es nicht") {
		t.Fatalf("unknown zone: %d", p.status)
	}
	if _, err := g.Store.Automation(ctx, "106540352242922", store.AutoCSAT); err == nil {
		t.Fatal("the refused survey was saved")
	}
	if _, err := g.Store.Automation(ctx, "106540352242922", store.AutoHours); err == nil {
		t.Fatal("the refused hours were saved")
	}

	lea := newBrowser(t, g.Public.URL)
	lea.login("lea@example.de")
	p = lea.get("/inbox")
	if !strings.Contains(p.body, `data-testid="window-reminder"`) || !strings.Contains(p.body, "Erika wartet auf Antwort") {
		t.Fatalf("no reminder in Lea's inbox: %d", p.status)
	}
	if lea.get("/automations").status != 403 {
		t.Fatal("an agent opened the automations page")
	}
}
