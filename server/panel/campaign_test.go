package panel_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestOptInEntriesPage: an admin adds an entry point in the panel and gets
// its link, QR code (PNG, SVG) and website snippet; bad input is refused
// in German and stores nothing; an agent may see campaigns but not
// manage entry points.
func TestOptInEntriesPage(t *testing.T) {
	sg := testenv.NewSending(t, testenv.SendingOptions{Campaign: &campaign.Config{}})
	g := sg.Gateway
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	b := newBrowser(t, g.Public.URL)
	b.login("admin@example.de")
	if p := b.post("/optin", url.Values{"name": {"Laden"}, "keyword": {"Newsletter"}, "confirmation": {"Ja, ich möchte Angebote erhalten."},
		"button": {"viel zu lange Beschriftung hier"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "nicht gespeichert") {
		t.Fatalf("bad button: %d", p.status)
	}
	if list, _ := g.Store.OptInEntries(t.Context()); len(list) != 0 {
		t.Fatalf("%d entries stored from bad input", len(list))
	}
	if p := b.post("/optin", url.Values{"name": {"Laden"}, "keyword": {"Newsletter"}, "confirmation": {"Ja, ich möchte Angebote erhalten."},
		"button": {"Ja, anmelden"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	p := b.get("/optin")
	if !strings.Contains(p.body, "https://wa.me/15550783881?text=Newsletter") || !strings.Contains(p.body, "/optin/1/qr.png") {
		t.Fatalf("entry page lacks the link or QR code")
	}
	if p := b.get("/optin/1/qr.svg"); p.status != 200 || !strings.HasPrefix(p.body, "<svg") {
		t.Fatalf("svg: %d", p.status)
	}
	if p := b.get("/optin/1/qr.png"); p.status != 200 || !strings.HasPrefix(p.body, "\x89PNG") {
		t.Fatalf("png: %d", p.status)
	}
	a := newBrowser(t, g.Public.URL)
	a.login("agent@example.de")
	if p := a.get("/campaigns"); p.status != 200 || strings.Contains(p.body, "new-campaign") {
		t.Fatalf("agent campaigns page: %d (create form shown: %v)", p.status, strings.Contains(p.body, "new-campaign"))
	}
	if p := a.get("/optin"); p.status != http.StatusForbidden {
		t.Fatalf("agent on /optin: %d", p.status)
	}
}
