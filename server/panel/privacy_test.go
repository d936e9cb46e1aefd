package panel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

func TestPrivacyPageAndLegalHoldForms(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	old := time.Now().Add(-400 * 24 * time.Hour).Unix()
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915112345678", "Anna", "wamid.old", old, "alte Nachricht"))

	agent := newBrowser(t, g.Public.URL)
	agent.login("agent@example.de")
	if p := agent.get("/privacy"); p.status == http.StatusOK {
		t.Fatal("an agent may open the data protection page")
	}

	b := newBrowser(t, g.Public.URL)
	b.login("admin@example.de")
	p := b.get("/privacy")
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="retention"`) || !strings.Contains(p.body, "Verzeichnis von Verarbeitungstätigkeiten") ||
		!strings.Contains(p.body, "Meta Platforms Ireland") {
		t.Fatalf("privacy page: %d", p.status)
	}
	if !strings.Contains(p.body, `data-testid="due-messages">1<`) {
		t.Fatal("the 400-day-old message is not shown as due")
	}
	// Changing a period: applied and audited; bad input changes nothing.
	if p := b.post("/privacy/retention", url.Values{"class": {"messages"}, "days": {"500"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	if p := b.post("/privacy/retention", url.Values{"class": {"nonsense"}, "days": {"5"}}); p.status != http.StatusSeeOther {
		t.Fatalf("bad class: %d", p.status)
	}
	ps, _ := g.Store.RetentionPolicies(ctx)
	for _, pol := range ps {
		if pol.Class == store.RetainMessages && pol.PhoneNumberID == "" && pol.Days != 500 {
			t.Fatalf("messages policy: %d days", pol.Days)
		}
	}
	if p := b.get("/privacy"); !strings.Contains(p.body, `data-testid="due-messages">0<`) {
		t.Fatal("after keeping messages 500 days, the old one is still shown as due")
	}

	// A legal hold from the contact page, then released.
	c, err := g.Store.ContactByKey(ctx, "4915112345678")
	if err != nil {
		t.Fatal(err)
	}
	if p := b.post(fmt.Sprintf("/contacts/%d/holds", c.ID), url.Values{"preset": {"voucher"}, "reason": {"Rechnung 2026-17"}}); p.status != http.StatusSeeOther {
		t.Fatalf("hold: %d %s", p.status, p.body)
	}
	holds, _ := g.Store.Holds(ctx, c.ID)
	if len(holds) != 1 || !holds[0].Active(time.Now()) || time.Unix(holds[0].Until, 0).Year() != time.Now().Year()+8 {
		t.Fatalf("holds: %+v", holds)
	}
	page := b.get(fmt.Sprintf("/contacts/%d", c.ID))
	if !strings.Contains(page.body, "Rechnung 2026-17") || !strings.Contains(page.body, `data-testid="hold-release"`) {
		t.Fatal("the hold is not on the contact page")
	}
	if p := b.post(fmt.Sprintf("/contacts/%d/holds", c.ID), url.Values{"preset": {"forever"}, "reason": {"x"}}); p.status != http.StatusBadRequest {
		t.Fatalf("bad preset: %d", p.status)
	}
	if p := b.post(fmt.Sprintf("/contacts/%d/holds/%d/release", c.ID, holds[0].ID), nil); p.status != http.StatusSeeOther {
		t.Fatalf("release: %d", p.status)
	}
	if holds, _ := g.Store.Holds(ctx, c.ID); len(holds) != 1 || holds[0].Active(time.Now()) {
		t.Fatalf("after release: %+v", holds)
	}
	if p := agent.post(fmt.Sprintf("/contacts/%d/holds", c.ID), url.Values{"preset": {"voucher"}, "reason": {"x"}}); p.status == http.StatusSeeOther {
		t.Fatal("an agent may set a legal hold")
	}
}
