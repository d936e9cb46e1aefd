package panel_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// An admin edits an approved template in the panel: the form opens
// prefilled from the stored components, the new text reaches Meta, the
// template goes back to review and is approved again, and the edit is
// audited. Agents may not edit; a bad edit and Meta's refusal are
// answered in German and change nothing.
func TestTemplatesPageAdminEdits(t *testing.T) {
	sg := templateGateway(t)
	g := sg.Gateway
	ctx := context.Background()
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	admin := newBrowser(t, g.Public.URL)
	admin.login("admin@example.de")

	// The form is prefilled in the create form's notation.
	page := html.UnescapeString(admin.get("/templates").body)
	for _, want := range []string{`data-testid="template-edit-rechnung_bezahlt-de"`, "Bearbeiten",
		"Hallo {{1}}, Ihre Rechnung über {{2}} ist bezahlt.", "Antwort: Danke", `value="Rechnung {{1}}"`, `value="Kaffeerösterei Pforte"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("templates page lacks %q", want)
		}
	}
	before, err := g.Store.TemplateOf(ctx, simWABA, "rechnung_bezahlt", "de")
	if err != nil || before.Status != "APPROVED" {
		t.Fatalf("before: %+v %v", before, err)
	}
	edit := func(kv ...string) url.Values {
		v := url.Values{"waba": {simWABA}, "name": {"rechnung_bezahlt"}, "language": {"de"}, "category": {"UTILITY"},
			"header_format": {"TEXT"}, "header_text": {"Rechnung {{1}}"}, "body": {"Guten Tag {{1}}, Ihre Rechnung über {{2}} ist beglichen. Danke!"},
			"examples": {"R-1\nUta\n12,00 €"}, "footer": {"Kaffeerösterei Pforte"}, "buttons": {"Antwort: Danke"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	agent := newBrowser(t, g.Public.URL)
	agent.login("agent@example.de")
	if p := agent.post("/templates/edit", edit()); p.status != http.StatusForbidden {
		t.Fatalf("agent edit: %d", p.status)
	}
	if strings.Contains(agent.get("/templates").body, "template-edit-") {
		t.Fatal("agents see the edit form")
	}

	// A body placeholder without example: German answer, nothing changed.
	bad := edit("body", "Guten Tag {{1}}, Ihre Rechnung über {{2}} ist beglichen, {{3}}.")
	if p := admin.post("/templates/edit", bad); p.status != 422 || !strings.Contains(p.body, "3 Platzhalter") {
		t.Fatalf("bad edit: %d", p.status)
	}
	unchanged := func(when string) {
		t.Helper()
		now, err := g.Store.TemplateOf(ctx, simWABA, "rechnung_bezahlt", "de")
		if err != nil || now.Status != "APPROVED" || now.Components != before.Components {
			t.Fatalf("%s: template changed locally: %+v %v", when, now, err)
		}
		if c := string(sg.Sim.TemplateComponents("rechnung_bezahlt", "de")); strings.Contains(c, "beglichen") {
			t.Fatalf("%s: reached Meta: %s", when, c)
		}
	}
	unchanged("bad edit")

	// Meta refuses (its copy is in review already): Meta's reason in German.
	sg.Sim.SetTemplate("rechnung_bezahlt", "de", "PENDING", "", "")
	p := admin.post("/templates/edit", edit())
	if p.status != 422 || !strings.Contains(p.body, "Meta hat die Änderung nicht angenommen") || !strings.Contains(p.body, "can be edited") {
		t.Fatalf("Meta's refusal: %d", p.status)
	}
	unchanged("Meta's refusal")
	sg.Sim.SetTemplate("rechnung_bezahlt", "de", "APPROVED", "", "")

	// The edit: Meta has the new text, review, approval.
	if p := admin.post("/templates/edit", edit()); p.status != http.StatusSeeOther || p.header.Get("Location") != "/templates?edited=1" {
		t.Fatalf("edit: %d %s", p.status, p.body)
	}
	if c := string(sg.Sim.TemplateComponents("rechnung_bezahlt", "de")); !strings.Contains(c, "ist beglichen. Danke!") || !strings.Contains(c, `"R-1"`) {
		t.Fatalf("Meta has %s", c)
	}
	tp, err := g.Store.TemplateOf(ctx, simWABA, "rechnung_bezahlt", "de")
	if err != nil || tp.Status != "PENDING" || !strings.Contains(tp.Components, "beglichen") {
		t.Fatalf("after edit: %+v %v", tp, err)
	}
	testenv.Eventually(t, 5*time.Second, "the edited template approved again", func() bool {
		tp, err := g.Store.TemplateOf(ctx, simWABA, "rechnung_bezahlt", "de")
		return err == nil && tp.Status == "APPROVED" && strings.Contains(tp.Components, "beglichen")
	})
	log, err := g.Store.AuditLog(ctx, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	edits := 0
	for _, e := range log {
		if e.Action == store.AuditTemplateEdit {
			edits++
		}
	}
	if edits != 1 {
		t.Fatalf("%d template edits audited, want 1", edits)
	}

}

// A template with an image header needs a new sample file when edited:
// the handle of the first upload does not count again at Meta, so the
// panel asks for the file in German before asking Meta.
func TestTemplateEditMediaNeedsSample(t *testing.T) {
	sg := templateGateway(t)
	g := sg.Gateway
	ctx := context.Background()
	sg.Sim.AddAccountTemplate("bild_angebot", "de", "MARKETING",
		json.RawMessage(`[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::c2FtcGxl"]}},{"type":"BODY","text":"Neu im Laden"}]`))
	if _, err := sg.Templates.SyncAccount(ctx, simWABA, store.ActorSystem); err != nil {
		t.Fatal(err)
	}
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	admin := newBrowser(t, g.Public.URL)
	admin.login("admin@example.de")
	if page := admin.get("/templates").body; !strings.Contains(page, `<option value="IMAGE" selected>`) {
		t.Fatal("the edit form does not keep the image header chosen")
	}
	form := url.Values{"waba": {simWABA}, "name": {"bild_angebot"}, "language": {"de"}, "header_format": {"IMAGE"}, "body": {"Frisch geröstet im Laden"}}
	if p := admin.post("/templates/edit", form); p.status != 422 || !strings.Contains(p.body, "Beispieldatei") {
		t.Fatalf("edit without sample: %d", p.status)
	}
	if c := string(sg.Sim.TemplateComponents("bild_angebot", "de")); strings.Contains(c, "Frisch") {
		t.Fatalf("reached Meta: %s", c)
	}
	tp, err := g.Store.TemplateOf(ctx, simWABA, "bild_angebot", "de")
	if err != nil || tp.Status != "APPROVED" || strings.Contains(tp.Components, "Frisch") {
		t.Fatalf("changed locally: %+v %v", tp, err)
	}
}
