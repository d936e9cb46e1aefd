package panel_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// Templates approved by webhook stay known after retention removed the
// webhooks (clock moved 40 days on): the marketing one is still refused
// without an opt-in, and one whose category Pforte never learnt is refused
// too, on the proxy and the queued API, before Meta is called. With an
// opt-in both go out.
// An admin records the category of a template Meta never reported on the
// templates page; the page says so, and one Meta reported cannot be
// changed there.
func TestPanelTemplateCategoryByHand(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	admin := addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	b := sessionFor(t, g, admin)
	g.ApproveTemplate(t, "werbung_meta", "de", "MARKETING")
	if p := b.get("/templates"); p.status != 200 || !strings.Contains(p.body, "werbung_meta") || !strings.Contains(p.body, "de · MARKETING") {
		t.Fatalf("templates page: %d", p.status)
	}
	if p := b.post("/templates/text", url.Values{"name": {"alt"}, "language": {"de"}, "body": {"Hallo {{1}}"}, "category": {"BOGUS"}}); p.status != http.StatusBadRequest {
		t.Fatalf("bogus category: %d", p.status)
	}
	if p := b.post("/templates/text", url.Values{"name": {"alt"}, "language": {"de"}, "body": {"Hallo {{1}}"}}); p.status != http.StatusSeeOther {
		t.Fatalf("text only: %d", p.status)
	}
	if p := b.get("/templates"); !strings.Contains(p.body, "Kategorie unbekannt, gilt als Werbung") {
		t.Fatal("an unknown category is not called out")
	}
	for _, f := range []url.Values{
		{"name": {"alt"}, "language": {"de"}, "body": {"Hallo {{1}}"}, "category": {"UTILITY"}},
		{"name": {"werbung_meta"}, "language": {"de"}, "body": {"Angebot"}, "category": {"UTILITY"}},
	} {
		if p := b.post("/templates/text", f); p.status != http.StatusSeeOther {
			t.Fatalf("%v: %d", f, p.status)
		}
	}
	got := map[string]string{}
	tpls, _ := g.Store.Templates(context.Background())
	for _, tp := range tpls {
		got[tp.Name] = tp.Category
	}
	if got["alt"] != "UTILITY" || got["werbung_meta"] != "MARKETING" {
		t.Fatalf("categories: %v", got)
	}
}
