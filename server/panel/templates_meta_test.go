package panel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

const simWABA = "102290129340398"

// rechnungComponents: a text header with a placeholder, a body with two,
// a footer and a quick reply.
const rechnungComponents = `[{"type":"HEADER","format":"TEXT","text":"Rechnung {{1}}"},
 {"type":"BODY","text":"Hallo {{1}}, Ihre Rechnung über {{2}} ist bezahlt."},
 {"type":"FOOTER","text":"Kaffeerösterei Pforte"},
 {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Danke"}]}]`

func templateGateway(t *testing.T) *testenv.SendingGateway {
	t.Helper()
	sg := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: 50 * time.Millisecond, ReviewDelay: 30 * time.Millisecond}})
	sg.Sim.AddAccountTemplate("rechnung_bezahlt", "de", "UTILITY", json.RawMessage(rechnungComponents))
	sg.Sim.AddAccountTemplate("angebot_woche", "de", "MARKETING", json.RawMessage(`[{"type":"BODY","text":"Nur diese Woche: {{1}}"}]`))
	if _, err := sg.Templates.SyncAccount(context.Background(), simWABA, store.ActorSystem); err != nil {
		t.Fatal(err)
	}
	return sg
}

// "Neue Unterhaltung": a German number typed nationally is normalised, the
// template goes out with header and body parameters, and the conversation
// is assigned to the agent who started it. Bad input gets German answers
// and sends nothing; a marketing template needs an opt-in.
func TestNewConversationStartsAssigned(t *testing.T) {
	sg := templateGateway(t)
	g := sg.Gateway
	ctx := context.Background()
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	b := newBrowser(t, g.Public.URL)
	b.login("lea@example.de")
	if p := b.get("/conversations/new"); p.status != 200 || !strings.Contains(p.body, "rechnung_bezahlt") || !strings.Contains(p.body, "Rechnung {{1}}") {
		t.Fatalf("page: %d", p.status)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"number": {sg.Sim.Options().PhoneNumberID}, "template": {"rechnung_bezahlt|de"}, "phone": {"0151 2345 6789"},
			"h_1": {"R-2026-17"}, "p_1": {"Frau Meier"}, "p_2": {"42,50 €"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, c := range []struct {
		form   url.Values
		status int
		want   string
	}{
		{form("phone", "0151-23x"), 422, "gültige Telefonnummer"},
		{form("phone", "12"), 422, "gültige Telefonnummer"},
		{form("p_2", ""), 422, "{{2}}"},
		{form("h_1", ""), 422, "Kopfzeile"},
		{form("template", "gibt_es_nicht|de"), 422, "genehmigte Vorlage"},
		{form("number", "999"), 422, "Absendernummer"},
		{form("template", "angebot_woche|de", "p_1", "Espresso -20 %"), 409, "Werbung"},
	} {
		if p := b.post("/conversations/new", c.form); p.status != c.status || !strings.Contains(p.body, c.want) {
			t.Errorf("%v: %d, want %d with %q", c.form, p.status, c.status, c.want)
		}
	}
	if n := len(sg.Sim.Accepted()); n != 0 {
		t.Fatalf("%d messages reached Meta from refused forms", n)
	}
	p := b.post("/conversations/new", form())
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/conversations/") {
		t.Fatalf("start: %d %s", p.status, p.body)
	}
	body := waitSent(t, sg.Sim, "template", 1)
	for _, want := range []string{`"to":"+4915123456789"`, `"name":"rechnung_bezahlt"`, `"type":"header"`, `"text":"R-2026-17"`, `"text":"42,50 €"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("sent %s, want %s", body, want)
		}
	}
	conv := conversationID(t, g.Store, "4915123456789")
	if p.header.Get("Location") != fmt.Sprintf("/conversations/%d", conv) {
		t.Fatalf("redirected to %s, conversation %d", p.header.Get("Location"), conv)
	}
	cs, err := g.Store.ConversationByID(ctx, conv)
	if err != nil || cs.AssigneeID != agent.ID {
		t.Fatalf("conversation %+v %v, want assigned to %d", cs, err, agent.ID)
	}
}

// Admins sync and submit templates from the panel; agents use them but
// may not manage them. Meta's refusal reason is shown in German.
func TestTemplatesPageAdminManages(t *testing.T) {
	sg := templateGateway(t)
	g := sg.Gateway
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	agent := newBrowser(t, g.Public.URL)
	agent.login("agent@example.de")
	if p := agent.post("/templates/sync", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("agent sync: %d", p.status)
	}
	admin := newBrowser(t, g.Public.URL)
	admin.login("admin@example.de")
	sg.Sim.AddAccountTemplate("neu_im_manager", "de", "UTILITY", json.RawMessage(`[{"type":"BODY","text":"Neu"}]`))
	if p := admin.post("/templates/sync", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("sync: %d %s", p.status, p.body)
	}
	p := admin.get("/templates?synced=1")
	if !strings.Contains(p.body, "neu_im_manager") || !strings.Contains(p.body, "abgeglichen") || !strings.Contains(p.body, "data-testid=\"template-preview\"") {
		t.Fatalf("templates page after sync lacks the new template or the preview")
	}
	create := url.Values{"name": {"abholung_info"}, "language": {"de"}, "category": {"UTILITY"}, "body": {"Hallo {{1}}, Ihre Bestellung {{2}} liegt bereit."},
		"examples": {"Uta\n10482"}, "footer": {"Kaffeerösterei"}, "buttons": {"Antwort: Danke\nLink: Öffnungszeiten | https://example.de/laden/{{1}} | berlin\nAnruf: Anrufen | +49 30 23125100"}}
	if p := admin.post("/templates/new", create); p.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	testenv.Eventually(t, 5*time.Second, "the new template approved", func() bool {
		tp, err := g.Store.TemplateOf(context.Background(), simWABA, "abholung_info", "de")
		return err == nil && tp.Status == "APPROVED" && strings.Contains(tp.Components, "laden/{{1}}")
	})
	bad := url.Values{"name": {"Abholung"}, "language": {"de"}, "category": {"UTILITY"}, "body": {"x"}}
	if p := admin.post("/templates/new", bad); p.status != 422 || !strings.Contains(p.body, "Kleinbuchstaben") {
		t.Fatalf("bad name: %d", p.status)
	}
	few := url.Values{"name": {"zu_wenig"}, "language": {"de"}, "category": {"UTILITY"}, "body": {"Hallo {{1}} {{2}}"}, "examples": {"nur einer"}}
	if p := admin.post("/templates/new", few); p.status != 422 || !strings.Contains(p.body, "2 Platzhalter") {
		t.Fatalf("too few examples: %d", p.status)
	}
	// Meta's refusal, with Meta's words.
	lib := url.Values{"library": {"gibt_es_nicht_1"}, "name": {"aus_bibliothek"}, "language": {"de"}}
	if p := admin.post("/templates/library", lib); p.status != 422 || !strings.Contains(p.body, "Meta hat die Vorlage nicht angenommen") || !strings.Contains(p.body, "Library template not found") {
		t.Fatalf("library refusal: %d", p.status)
	}
	if p := admin.post("/templates/delete", url.Values{"name": {"neu_im_manager"}, "language": {"de"}}); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", p.status, p.body)
	}
	if _, ok := sg.Sim.AccountTemplates()["neu_im_manager/de"]; ok {
		t.Fatal("still at Meta")
	}
}

// In Chromium an agent starts a new conversation: types a German number,
// picks the template, fills header and body variables, watches the
// WhatsApp-like preview fill in, and sends; the conversation opens,
// assigned to her.
func TestBrowserNewConversationWithTemplate(t *testing.T) {
	root := chrome(t)
	sg := templateGateway(t)
	g := sg.Gateway
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	tab := person(t, root)
	do(t, tab,
		chromedp.Navigate(g.Public.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "lea@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
	)
	do(t, tab,
		chromedp.Click(chromedp.CSS(`[data-testid=new-conversation]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=new-conversation-form]`)),
	)
	do(t, tab,
		chromedp.SetValue(chromedp.CSS(`[data-testid=template-select]`), "rechnung_bezahlt|de"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=template-select]').dispatchEvent(new Event('change', {bubbles: true}))`),
	)
	// Both templates have a {{1}}: the fields of the chosen one.
	fs := `[data-tpl="rechnung_bezahlt|de"] `
	do(t, tab,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-phone]`), "0151 2345 6789"),
		chromedp.WaitVisible(chromedp.CSS(fs+`input[name=h_1]`)),
		chromedp.SendKeys(chromedp.CSS(fs+`input[name=h_1]`), "R-2026-17"),
		chromedp.SendKeys(chromedp.CSS(fs+`input[name=p_1]`), "Frau Meier"),
		chromedp.SendKeys(chromedp.CSS(fs+`input[name=p_2]`), "42,50 €"),
	)
	sel := `[data-tpl="rechnung_bezahlt|de"]`
	waitText(t, tab, sel+` .wa-head`, "Rechnung R-2026-17")
	waitText(t, tab, sel+` .wa-body`, "Hallo Frau Meier, Ihre Rechnung über 42,50 € ist bezahlt.")
	waitText(t, tab, sel+` .wa-foot`, "Kaffeerösterei Pforte")
	waitText(t, tab, sel+` .wa-buttons`, "Danke")
	shot(t, tab, "40-new-conversation")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=new-conversation-send]`)))
	body := waitSent(t, sg.Sim, "template", 1)
	if !strings.Contains(body, `"to":"+4915123456789"`) || !strings.Contains(body, `"text":"R-2026-17"`) {
		t.Fatalf("sent %s", body)
	}
	conv := conversationID(t, g.Store, "4915123456789")
	// The form posts and the browser follows the redirect: wait for the page.
	do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid=composer]`)))
	waitText(t, tab, `[data-testid=thread]`, "Hallo Frau Meier, Ihre Rechnung über 42,50 € ist bezahlt.")
	if at := location(t, tab); !strings.HasSuffix(at, fmt.Sprintf("/conversations/%d", conv)) {
		t.Fatalf("at %s, not on conversation %d", at, conv)
	}
	cs, err := g.Store.ConversationByID(context.Background(), conv)
	if err != nil || cs.AssigneeID != agent.ID {
		t.Fatalf("conversation %+v %v, want assigned to Lea", cs, err)
	}
}

// A template with an image header is sent with a file the agent uploads:
// the file goes to Meta through the one upload path and the header
// carries its media id. A file of the wrong kind, or neither file nor
// link, is refused in German and sends nothing.
func TestTemplateHeaderFileUploaded(t *testing.T) {
	sg := templateGateway(t)
	g := sg.Gateway
	ctx := context.Background()
	sg.Sim.AddAccountTemplate("paket_foto", "de", "UTILITY", json.RawMessage(`[{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2U="]}},
		{"type":"BODY","text":"Ihr Paket {{1}} ist angekommen."}]`))
	if _, err := sg.Templates.SyncAccount(ctx, simWABA, store.ActorSystem); err != nil {
		t.Fatal(err)
	}
	addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	b := newBrowser(t, g.Public.URL)
	b.login("lea@example.de")
	if p := b.get("/conversations/new"); !strings.Contains(p.body, `name="header_file" accept="image/jpeg,image/png"`) {
		t.Fatal("the form offers no file for the image header")
	}
	fields := map[string]string{"number": sg.Sim.Options().PhoneNumberID, "template": "paket_foto|de", "phone": "0151 2345 6789", "p_1": "P-77"}
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 2048)...)

	if p := multipartPostAs(t, b, "/conversations/new", fields, "header_file", "rechnung.pdf", "application/pdf", []byte("%PDF-1.4 x")); p.status != http.StatusUnsupportedMediaType ||
		!strings.Contains(p.body, "braucht ein Bild (JPEG oder PNG)") {
		t.Fatalf("a PDF for an image header: %d", p.status)
	}
	if p := multipartPostAs(t, b, "/conversations/new", fields, "", "", "", nil); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "Bitte laden Sie die Datei der Kopfzeile hoch") {
		t.Fatalf("neither file nor link: %d", p.status)
	}
	if n := len(sg.Sim.Accepted()); n != 0 {
		t.Fatalf("refused forms sent %d messages", n)
	}

	if p := multipartPostAs(t, b, "/conversations/new", fields, "header_file", "paket.png", "image/png", png); p.status != http.StatusSeeOther {
		t.Fatalf("with a file: %d %.300s", p.status, p.body)
	}
	body := waitSent(t, sg.Sim, "template", 1)
	var sent struct {
		Template struct {
			Components []struct {
				Type       string
				Parameters []struct {
					Type  string
					Image struct{ ID, Link string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &sent); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, c := range sent.Template.Components {
		if c.Type == "header" && len(c.Parameters) == 1 && c.Parameters[0].Type == "image" && c.Parameters[0].Image.Link == "" {
			id = c.Parameters[0].Image.ID
		}
	}
	if id == "" {
		t.Fatalf("no image header with a media id: %s", body)
	}
	if got, ok := sg.Sim.Media(id); !ok || !bytes.Equal(got, png) {
		t.Fatalf("the header's media id %s is not the uploaded file at Meta (%v)", id, ok)
	}
}
