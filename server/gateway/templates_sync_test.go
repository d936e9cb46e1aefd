package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/mediafetch"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

const simWABA = "102290129340398"

func newTemplateGateway(t *testing.T, pageSize int, debounce time.Duration) *testenv.SendingGateway {
	t.Helper()
	return testenv.NewSending(t, testenv.SendingOptions{
		Sender:    outbox.Config{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, SyncWait: 5 * time.Second},
		Media:     mediafetch.Config{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Poll: 20 * time.Millisecond, MaxAttempts: 4},
		Sim:       simulator.Options{StatusDelay: 20 * time.Millisecond, TemplatePageSize: pageSize, ReviewDelay: 30 * time.Millisecond},
		Templates: templates.Options{Debounce: debounce},
	})
}

func body(text string) json.RawMessage {
	b, _ := json.Marshal([]any{map[string]any{"type": "BODY", "text": text}})
	return b
}

// richComponents: a text header with a placeholder, a body with two, a
// footer and buttons, one of them a link with a variable.
const richComponents = `[{"type":"HEADER","format":"TEXT","text":"Bestellung {{1}}","example":{"header_text":["10482"]}},
 {"type":"BODY","text":"Hallo {{1}}, Ihre Bestellung ist am {{2}} bei Ihnen.","example":{"body_text":[["Uta","Dienstag"]]}},
 {"type":"FOOTER","text":"Kaffeerösterei Pforte"},
 {"type":"BUTTONS","buttons":[{"type":"URL","text":"Verfolgen","url":"https://example.de/t/{{1}}","example":["10482"]},{"type":"QUICK_REPLY","text":"Stopp"}]}]`

func graphCount(g *testenv.SendingGateway, method, suffix string) int {
	n := 0
	for _, c := range g.GraphCalls() {
		if c.Method == method && strings.HasSuffix(c.Path, suffix) {
			n++
		}
	}
	return n
}

func listTemplates(t *testing.T, g *testenv.SendingGateway) map[string]map[string]any {
	t.Helper()
	code, b := g.API(t, "GET", "/api/v1/templates", nil)
	if code != 200 {
		t.Fatalf("list: %d %s", code, b)
	}
	var out struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]any{}
	for _, d := range out.Data {
		m[d["name"].(string)+"/"+d["language"].(string)] = d
	}
	return m
}

// A sync follows Meta's cursors over every page, stores each template with
// its components, category, status and quality, and marks one that
// disappeared at Meta deleted instead of dropping it.
func TestTemplateSyncPagesAndMarksDeleted(t *testing.T) {
	g := newTemplateGateway(t, 2, time.Hour)
	for _, n := range []string{"a_eins", "b_zwei", "c_drei", "d_vier"} {
		g.Sim.AddAccountTemplate(n, "de", "UTILITY", body("Hallo {{1}}"))
	}
	g.Sim.AddAccountTemplate("e_rich", "de", "MARKETING", json.RawMessage(richComponents))
	g.Sim.SetTemplate("d_vier", "de", "REJECTED", "", "")
	before := graphCount(g, "GET", "/message_templates")
	code, b := g.API(t, "POST", "/api/v1/templates/sync", nil)
	if code != 200 || !strings.Contains(string(b), `"listed":5`) || !strings.Contains(string(b), `"added":5`) {
		t.Fatalf("sync: %d %s", code, b)
	}
	if pages := graphCount(g, "GET", "/message_templates") - before; pages != 3 {
		t.Fatalf("%d listing pages fetched, want 3 (5 templates, 2 per page)", pages)
	}
	got := listTemplates(t, g)
	if len(got) != 5 {
		t.Fatalf("%d templates listed: %v", len(got), got)
	}
	rich := got["e_rich/de"]
	if rich["category"] != "MARKETING" || rich["status"] != "APPROVED" || rich["quality"] != "GREEN" || rich["usable"] != true || rich["synced_at"] == nil {
		t.Fatalf("rich template: %v", rich)
	}
	if comps, _ := json.Marshal(rich["components"]); !strings.Contains(string(comps), "Verfolgen") || !strings.Contains(string(comps), `"format":"TEXT"`) {
		t.Fatalf("components not kept: %s", comps)
	}
	if r := got["d_vier/de"]; r["status"] != "REJECTED" || r["rejected_reason"] != "INVALID_FORMAT" || r["usable"] != false {
		t.Fatalf("rejected template: %v", r)
	}

	g.Sim.RemoveAccountTemplate("b_zwei", "de")
	code, b = g.API(t, "POST", "/api/v1/templates/sync", nil)
	if code != 200 || !strings.Contains(string(b), `"deleted":1`) {
		t.Fatalf("second sync: %d %s", code, b)
	}
	gone, err := g.Store.TemplateOf(context.Background(), simWABA, "b_zwei", "de")
	if err != nil || gone.DeletedAt == 0 || gone.Usable() || gone.Status != "DELETED" {
		t.Fatalf("vanished template: %+v %v", gone, err)
	}
	// An audit entry names who synced.
	entries, err := g.Store.AuditLog(context.Background(), 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	synced := 0
	for _, e := range entries {
		if e.Action == store.AuditTemplateSync {
			synced++
		}
	}
	if synced != 2 {
		t.Fatalf("%d sync audit entries, want 2", synced)
	}
}

// Each of Meta's four template webhooks updates the table by itself (the
// follow-up listing is held back here), and a webhook makes Pforte list the
// account again (here with a short debounce), which brings the components.
func TestTemplateWebhooksUpdateTable(t *testing.T) {
	ctx := context.Background()
	t.Run("each kind", func(t *testing.T) {
		g := newTemplateGateway(t, 0, time.Hour)
		id := g.Sim.AddAccountTemplate("termin", "de", "UTILITY", body("Ihr Termin am {{1}}"))
		if _, err := g.Templates.SyncAccount(ctx, simWABA, store.ActorSystem); err != nil {
			t.Fatal(err)
		}
		base := map[string]any{"message_template_id": id, "message_template_name": "termin", "message_template_language": "de"}
		with := func(kv ...any) map[string]any {
			m := map[string]any{}
			for k, v := range base {
				m[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		steps := []struct {
			field string
			value map[string]any
			check func(*store.Template) bool
		}{
			{"message_template_status_update", with("event", "PAUSED", "reason", "LOW_QUALITY", "message_template_category", "UTILITY",
				"other_info", map[string]string{"title": "FIRST_PAUSE", "description": "Pausiert für 3 Stunden"}),
				func(tp *store.Template) bool {
					return tp.Status == "PAUSED" && tp.Reason == "LOW_QUALITY" && tp.Detail == "Pausiert für 3 Stunden" && !tp.Usable()
				}},
			{"message_template_quality_update", with("previous_quality_score", "GREEN", "new_quality_score", "RED"),
				func(tp *store.Template) bool { return tp.Quality == "RED" }},
			{"message_template_components_update", with("message_template_element", "Neu: Ihr Termin am {{1}} um {{2}}",
				"message_template_footer", "Praxis Dr. Beispiel"),
				func(tp *store.Template) bool {
					cs, err := cloudapi.ParseComponents([]byte(tp.Components))
					sl := cloudapi.SlotsOf(cs)
					return err == nil && sl.Body == "Neu: Ihr Termin am {{1}} um {{2}}" && sl.Footer == "Praxis Dr. Beispiel" && len(sl.BodyParams) == 2
				}},
			{"template_category_update", with("previous_category", "UTILITY", "new_category", "MARKETING"),
				func(tp *store.Template) bool { return tp.Category == "MARKETING" && tp.CategoryBy == "meta" }},
		}
		for _, s := range steps {
			if err := g.Sim.PostTemplateUpdate(ctx, s.field, s.value); err != nil {
				t.Fatal(err)
			}
			tp, err := g.Store.TemplateOf(ctx, simWABA, "termin", "de")
			if err != nil || !s.check(tp) {
				t.Fatalf("after %s: %+v %v", s.field, tp, err)
			}
		}
	})
	t.Run("webhook lists again", func(t *testing.T) {
		g := newTemplateGateway(t, 0, 20*time.Millisecond)
		id := g.Sim.AddAccountTemplate("rechnung", "de", "UTILITY", json.RawMessage(richComponents))
		if err := g.Sim.PostTemplateUpdate(ctx, "message_template_status_update", map[string]any{"event": "APPROVED", "reason": "NONE",
			"message_template_id": id, "message_template_name": "rechnung", "message_template_language": "de", "message_template_category": "UTILITY"}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 5*time.Second, "the account listed after the webhook", func() bool {
			tp, err := g.Store.TemplateOf(ctx, simWABA, "rechnung", "de")
			return err == nil && tp.SyncedAt > 0 && strings.Contains(tp.Components, "Verfolgen")
		})
	})
}

// Templates are created (every component kind, a media header through the
// Resumable Upload API), edited, deleted and taken from the library through
// /api/v1; bad input is a 400 naming the field, Meta's refusal a 422 with
// Meta's reason, and the simulator's review approves or rejects.
func TestTemplateCreateEditDeleteAPI(t *testing.T) {
	g := newTemplateGateway(t, 0, 20*time.Millisecond)
	ctx := context.Background()
	apiJSON := func(method, path, b string) (int, map[string]any) {
		t.Helper()
		var rd *strings.Reader
		if b != "" {
			rd = strings.NewReader(b)
		}
		var code int
		var out []byte
		if rd == nil {
			code, out = g.API(t, method, path, nil)
		} else {
			code, out = g.API(t, method, path, rd)
		}
		m := map[string]any{}
		json.Unmarshal(out, &m)
		return code, m
	}
	field := func(m map[string]any) string {
		e, _ := m["error"].(map[string]any)
		f, _ := e["field"].(string)
		return f
	}
	// Bad input never reaches Meta.
	creates := graphCount(g, "POST", "/message_templates")
	for _, c := range []struct{ body, field string }{
		{`{"name":"Versand Info","language":"de","category":"UTILITY","components":[{"type":"BODY","text":"x"}]}`, "name"},
		{`{"name":"versand","language":"de","category":"WERBUNG","components":[{"type":"BODY","text":"x"}]}`, "category"},
		{`{"name":"versand","language":"de","category":"UTILITY","components":[{"type":"BODY","text":"Hallo {{1}}"}]}`, "components[BODY].example"},
		{`{"name":"versand","language":"de","category":"UTILITY","components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"x"}]}`, "components[HEADER].example.header_handle"},
		{`{"name":"versand","language":"de","category":"UTILITY","components":[{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Los","url":"https://e.de/{{1}}/x","example":["1"]}]}]}`, "components[BUTTONS].buttons[0].url"},
		{`{"name":"versand","language":"de","category":"UTILITY","components":[{"type":"BODY","text":"Hallo {{name}}"}],"parameter_format":"POSITIONAL"}`, "components[BODY].text"},
		{`{"name":"versand","language":"de","category":"UTILITY","unknown":1}`, "body"},
	} {
		if code, m := apiJSON("POST", "/api/v1/templates", c.body); code != 400 || field(m) != c.field {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, code, m, c.field)
		}
	}
	if n := graphCount(g, "POST", "/message_templates"); n != creates {
		t.Fatalf("refused definitions reached Meta (%d calls)", n-creates)
	}

	// A header sample through the Resumable Upload API.
	code, b, _ := post(t, g.Internal.URL+"/api/v1/templates/samples?file_name=kaffee.png", g.APIKey, "image/png", []byte("\x89PNG\r\n\x1a\nfake image"))
	var sample struct {
		Handle string `json:"header_handle"`
	}
	if json.Unmarshal(b, &sample); code != 201 || !strings.HasPrefix(sample.Handle, "4::") {
		t.Fatalf("sample: %d %s", code, b)
	}
	if graphCount(g, "POST", "/app/uploads") != 1 {
		t.Fatalf("no upload session at Meta: %v", g.GraphCalls())
	}
	if code, _, _ := post(t, g.Internal.URL+"/api/v1/templates/samples", g.APIKey, "image/gif", []byte("GIF89a")); code != 400 {
		t.Fatalf("gif sample: %d, want 400", code)
	}
	full := `{"name":"lieferung_unterwegs","language":"de","category":"MARKETING","parameter_format":"NAMED","components":[
		{"type":"HEADER","format":"IMAGE","example":{"header_handle":["` + sample.Handle + `"]}},
		{"type":"BODY","text":"Hallo {{vorname}}, Ihre Bestellung {{nummer}} ist unterwegs.","example":{"body_text_named_params":[{"param_name":"vorname","example":"Uta"},{"param_name":"nummer","example":"10482"}]}},
		{"type":"FOOTER","text":"Kaffeerösterei Pforte"},
		{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Keine Werbung"},{"type":"URL","text":"Verfolgen","url":"https://example.de/t/{{1}}","example":["10482"]},
			{"type":"PHONE_NUMBER","text":"Anrufen","phone_number":"+493023125100"},{"type":"COPY_CODE","example":"KAFFEE10"}]}]}`
	code, m := apiJSON("POST", "/api/v1/templates", full)
	// Meta may have approved it by the time the answer is written.
	if code != 201 || m["status"] != "PENDING" && m["status"] != "APPROVED" || m["id"] == "" {
		t.Fatalf("create: %d %v", code, m)
	}
	testenv.Eventually(t, 5*time.Second, "the review approving it", func() bool {
		tp, err := g.Store.TemplateOf(ctx, simWABA, "lieferung_unterwegs", "de")
		return err == nil && tp.Status == "APPROVED" && tp.Usable()
	})
	if code, m := apiJSON("POST", "/api/v1/templates", full); code != 400 || field(m) != "name" {
		t.Fatalf("duplicate: %d %v", code, m)
	}
	// Meta's own refusal comes back with Meta's reason.
	code, m = apiJSON("POST", "/api/v1/templates", strings.Replace(strings.Replace(full, sample.Handle, "4::unbekannt", 1), "lieferung_unterwegs", "lieferung_zwei", 1))
	if e, _ := m["error"].(map[string]any); code != 422 || e["code"] != "meta_refused" || !strings.Contains(e["message"].(string), "Resumable Upload") {
		t.Fatalf("Meta's refusal: %d %v", code, m)
	}
	// The review rejects names with the marker.
	if code, m := apiJSON("POST", "/api/v1/templates", `{"name":"bitte_reject_mich","language":"de","category":"UTILITY","components":[{"type":"BODY","text":"Hallo"}]}`); code != 201 {
		t.Fatalf("create to reject: %d %v", code, m)
	}
	testenv.Eventually(t, 5*time.Second, "the review rejecting it", func() bool {
		tp, err := g.Store.TemplateOf(ctx, simWABA, "bitte_reject_mich", "de")
		return err == nil && tp.Status == "REJECTED" && tp.Reason == "INVALID_FORMAT"
	})

	// Edit: new components, reviewed again.
	code, m = apiJSON("POST", "/api/v1/templates/lieferung_unterwegs/de", `{"components":[{"type":"BODY","text":"Guten Tag {{vorname}}, Paket {{nummer}} kommt heute.","example":{"body_text_named_params":[{"param_name":"vorname","example":"Uta"},{"param_name":"nummer","example":"1"}]}}]}`)
	if code != 200 || m["status"] != "PENDING" && m["status"] != "APPROVED" {
		t.Fatalf("edit: %d %v", code, m)
	}
	testenv.Eventually(t, 5*time.Second, "the edit approved and listed", func() bool {
		tp, err := g.Store.TemplateOf(ctx, simWABA, "lieferung_unterwegs", "de")
		return err == nil && tp.Status == "APPROVED" && strings.Contains(tp.Components, "kommt heute")
	})

	// Library.
	code, m = apiJSON("GET", "/api/v1/templates/library?search=termin", "")
	if lib, _ := json.Marshal(m["data"]); code != 200 || !strings.Contains(string(lib), "appointment_reminder_1") || strings.Contains(string(lib), "delivery_update_1") {
		t.Fatalf("library: %d %s", code, lib)
	}
	if code, m := apiJSON("POST", "/api/v1/templates", `{"name":"mein_termin","language":"de","category":"UTILITY","library_template_name":"appointment_reminder_1"}`); code != 201 {
		t.Fatalf("from library: %d %v", code, m)
	}
	testenv.Eventually(t, 5*time.Second, "the library template approved with its text", func() bool {
		tp, err := g.Store.TemplateOf(ctx, simWABA, "mein_termin", "de")
		return err == nil && tp.Usable() && strings.Contains(tp.Components, "Erinnerung: Ihr Termin")
	})

	// Delete.
	if code, m := apiJSON("DELETE", "/api/v1/templates/mein_termin?language=de", ""); code != 204 {
		t.Fatalf("delete: %d %v", code, m)
	}
	if _, ok := g.Sim.AccountTemplates()["mein_termin/de"]; ok {
		t.Fatal("still at Meta after delete")
	}
	if tp, err := g.Store.TemplateOf(ctx, simWABA, "mein_termin", "de"); err != nil || tp.DeletedAt == 0 {
		t.Fatalf("deleted template: %+v %v", tp, err)
	}
	if code, _ := apiJSON("DELETE", "/api/v1/templates/gibt_es_nicht?language=de", ""); code != 404 {
		t.Fatalf("unknown delete: %d", code)
	}
	// Agents' keys (send scope) do not manage templates.
	key, _, err := g.Store.CreateAPIKey(ctx, "agent", []store.Scope{store.ScopeSend, store.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := post(t, g.Internal.URL+"/api/v1/templates", key, "application/json", []byte(full)); code != http.StatusForbidden {
		t.Fatalf("create with a send key: %d", code)
	}
}

// Template sends are checked against the listed components on the proxy
// (Meta's error shape and code) and the queued API (400) before Meta is
// called; a correct one goes out.
func TestTemplateSendParamsChecked(t *testing.T) {
	g := newTemplateGateway(t, 0, time.Hour)
	ctx := context.Background()
	g.Sim.AddAccountTemplate("bestellung", "de", "UTILITY", json.RawMessage(richComponents))
	if _, err := g.Templates.SyncAccount(ctx, simWABA, store.ActorSystem); err != nil {
		t.Fatal(err)
	}
	send := func(components string) []byte {
		return []byte(`{"messaging_product":"whatsapp","to":"+4915123456789","type":"template","template":{"name":"bestellung","language":{"code":"de"},"components":` + components + `}}`)
	}
	header := `{"type":"header","parameters":[{"type":"text","text":"10482"}]}`
	button := `{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"10482"}]}`
	bodyOK := `{"type":"body","parameters":[{"type":"text","text":"Uta"},{"type":"text","text":"Dienstag"}]}`
	cases := []struct {
		name, comps string
		code        cloudapi.ErrorCode
		field       string
	}{
		{"body param missing", `[` + header + `,{"type":"body","parameters":[{"type":"text","text":"Uta"}]},` + button + `]`, cloudapi.CodeTemplateParamCount, "template.components[body]"},
		{"body param extra", `[` + header + `,{"type":"body","parameters":[{"type":"text","text":"Uta"},{"type":"text","text":"Di"},{"type":"text","text":"x"}]},` + button + `]`, cloudapi.CodeTemplateParamCount, "template.components[body]"},
		{"header missing", `[` + bodyOK + `,` + button + `]`, cloudapi.CodeTemplateParamCount, "template.components[header]"},
		{"header of wrong kind", `[{"type":"header","parameters":[{"type":"image","image":{"link":"https://e.de/a.jpg"}}]},` + bodyOK + `,` + button + `]`, cloudapi.CodeTemplateParamFormat, "template.components[header].parameters[0].type"},
		{"url button missing", `[` + header + `,` + bodyOK + `]`, cloudapi.CodeTemplateParamCount, "template.components[button 0]"},
		{"button that does not exist", `[` + header + `,` + bodyOK + `,` + button + `,{"type":"button","sub_type":"url","index":"5","parameters":[{"type":"text","text":"x"}]}]`, cloudapi.CodeTemplateParamCount, "template.components[button].index"},
		{"named parameter for a numbered template", `[` + header + `,{"type":"body","parameters":[{"type":"text","parameter_name":"vorname","text":"Uta"},{"type":"text","text":"Di"}]},` + button + `]`, cloudapi.CodeTemplateParamCount, "template.components[body].parameters[0].parameter_name"},
	}
	before := graphCount(g, "POST", "/messages")
	for _, c := range cases {
		st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", send(c.comps))
		var ge struct {
			Error cloudapi.Error `json:"error"`
		}
		json.Unmarshal(b, &ge)
		if st != 400 || ge.Error.Code != c.code || !strings.Contains(string(b), c.field) || ge.Error.Type != "OAuthException" {
			t.Errorf("proxy, %s: %d %s, want Meta's %d naming %s", c.name, st, b, c.code, c.field)
		}
		st, b, _ = post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json",
			[]byte(`{"phone_number_id":"`+pnid+`","message":`+string(send(c.comps))+`}`))
		if st != 400 || !strings.Contains(string(b), `"invalid_template_parameters"`) || !strings.Contains(string(b), c.field) {
			t.Errorf("api, %s: %d %s", c.name, st, b)
		}
	}
	if n := graphCount(g, "POST", "/messages"); n != before {
		t.Fatalf("%d refused sends reached Meta", n-before)
	}
	st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", send(`[`+header+`,`+bodyOK+`,`+button+`]`))
	if st != 200 || !strings.Contains(string(b), "wamid.") {
		t.Fatalf("correct send: %d %s", st, b)
	}
	// A template deleted at Meta is refused as Meta would (132001).
	g.Sim.RemoveAccountTemplate("bestellung", "de")
	if _, err := g.Templates.SyncAccount(ctx, simWABA, store.ActorSystem); err != nil {
		t.Fatal(err)
	}
	st, b, _ = post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", send(`[`+header+`,`+bodyOK+`,`+button+`]`))
	if st != 400 || !strings.Contains(string(b), codeJSON(cloudapi.CodeTemplateNotFound)) {
		t.Fatalf("deleted template: %d %s", st, b)
	}
}

// The category Meta lists decides the consent gate: a MARKETING template
// needs an opt-in, a UTILITY one does not, and a template_category_update
// moving a template to MARKETING closes the gate for it.
func TestTemplateConsentByCategory(t *testing.T) {
	g := newTemplateGateway(t, 0, 20*time.Millisecond)
	ctx := context.Background()
	g.Sim.AddAccountTemplate("angebot", "de", "MARKETING", body("Nur heute: 10 % auf alles"))
	id := g.Sim.AddAccountTemplate("termin_info", "de", "UTILITY", body("Ihr Termin ist bestätigt"))
	if _, err := g.Templates.SyncAccount(ctx, simWABA, store.ActorSystem); err != nil {
		t.Fatal(err)
	}
	tpl := func(name string) []byte {
		return []byte(`{"messaging_product":"whatsapp","to":"+4915199887766","type":"template","template":{"name":"` + name + `","language":{"code":"de"}}}`)
	}
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl("angebot")); st != 400 || !strings.Contains(string(b), codeJSON(cloudapi.CodeMarketingOptOut)) {
		t.Fatalf("marketing without opt-in: %d %s", st, b)
	}
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl("termin_info")); st != 200 {
		t.Fatalf("utility: %d %s", st, b)
	}
	g.Sim.SetTemplate("termin_info", "de", "", "", "MARKETING")
	if err := g.Sim.PostTemplateUpdate(ctx, "template_category_update", map[string]any{"message_template_id": id, "message_template_name": "termin_info",
		"message_template_language": "de", "previous_category": "UTILITY", "new_category": "MARKETING"}); err != nil {
		t.Fatal(err)
	}
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl("termin_info")); st != 400 || !strings.Contains(string(b), codeJSON(cloudapi.CodeMarketingOptOut)) {
		t.Fatalf("recategorised template without opt-in: %d %s", st, b)
	}
	if code, b := g.API(t, "POST", "/api/v1/contacts/4915199887766/consent", strings.NewReader(`{"purpose":"marketing","action":"opt_in","source":"web_form","evidence":"Formular 9"}`)); code != 201 {
		t.Fatalf("consent: %d %s", code, b)
	}
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl("angebot")); st != 200 {
		t.Fatalf("marketing after opt-in: %d %s", st, b)
	}
}

// Synced templates live in their own table: a retention run 40 days later
// (the store's clock moved) removes the raw webhooks but not the template,
// its components or its category.
func TestSyncedTemplateSurvivesRetention(t *testing.T) {
	g := newTemplateGateway(t, 0, time.Hour)
	ctx := context.Background()
	g.Sim.AddAccountTemplate("bestellung", "de", "MARKETING", json.RawMessage(richComponents))
	if _, err := g.Templates.SyncAccount(ctx, simWABA, store.ActorSystem); err != nil {
		t.Fatal(err)
	}
	if err := g.Sim.PostTemplateUpdate(ctx, "message_template_quality_update", map[string]any{"message_template_id": 1,
		"message_template_name": "bestellung", "message_template_language": "de", "previous_quality_score": "GREEN", "new_quality_score": "YELLOW"}); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(40 * 24 * time.Hour)
	if _, err := g.Store.RunRetention(ctx, store.RetentionOptions{Now: later, OrphanGrace: -1}); err != nil {
		t.Fatal(err)
	}
	if ev, _ := g.Store.EventsByField(ctx, "message_template_quality_update", 10); len(ev) != 0 {
		t.Fatalf("%d template webhooks left: retention did not run", len(ev))
	}
	tp, err := g.Store.TemplateOf(ctx, simWABA, "bestellung", "de")
	if err != nil || !tp.Usable() || tp.Category != "MARKETING" || tp.Quality != "YELLOW" || !strings.Contains(tp.Components, "Verfolgen") || tp.SyncedAt == 0 {
		t.Fatalf("after retention: %+v %v", tp, err)
	}
}
