package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/store"
)

// Templates approved by webhook stay known after retention removed the
// webhooks (clock moved 40 days on): the marketing one is still refused
// without an opt-in, and one whose category Pforte never learnt is refused
// too, on the proxy and the queued API, before Meta is called. With an
// opt-in both go out.
func TestTemplateCategoryOutlivesRetentionOnEverySendPath(t *testing.T) {
	g := newSending(t)
	ctx := context.Background()
	if _, st, err := g.Sim.Write(ctx, simulator.Customer{WaID: "447700900125", Name: "Uta"}, "text"); err != nil || st != 200 {
		t.Fatalf("customer writes: %d %v", st, err)
	}
	g.ApproveTemplate(t, "angebot_dezember", "de", "MARKETING")
	g.ApproveTemplate(t, "termin_erinnerung", "de", "UTILITY")

	later := time.Now().Add(40 * 24 * time.Hour)
	if _, err := g.Store.RunRetention(ctx, store.RetentionOptions{Now: later, OrphanGrace: -1}); err != nil {
		t.Fatal(err)
	}
	if ev, _ := g.Store.EventsByField(ctx, "message_template_status_update", 10); len(ev) != 0 {
		t.Fatalf("%d template webhooks left: retention did not run", len(ev))
	}
	tpls, err := g.Store.Templates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offered := map[string]string{}
	for _, tp := range tpls {
		if tp.Usable() {
			offered[tp.Name] = tp.Category
		}
	}
	if offered["angebot_dezember"] != "MARKETING" || offered["termin_erinnerung"] != "UTILITY" {
		t.Fatalf("templates offered after retention: %v", offered)
	}

	tpl := func(name string) []byte {
		return []byte(`{"messaging_product":"whatsapp","to":"447700900125","type":"template","template":{"name":"` + name + `","language":{"code":"de"}}}`)
	}
	sendRefused(t, g, tpl("angebot_dezember"), []string{codeJSON(cloudapi.CodeMarketingOptOut)}, "no_marketing_consent")
	sendRefused(t, g, tpl("nie_gemeldet"), []string{codeJSON(cloudapi.CodeMarketingOptOut), "not known to Pforte"}, "no_marketing_consent")
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl("termin_erinnerung")); st != 200 {
		t.Fatalf("utility template: %d %s", st, b)
	}

	if code, body := g.API(t, "POST", "/api/v1/contacts/447700900125/consent", strings.NewReader(`{"purpose":"marketing","action":"opt_in","source":"web_form","evidence":"Formular 7"}`)); code != 201 {
		t.Fatalf("consent: %d %s", code, body)
	}
	for _, name := range []string{"angebot_dezember", "nie_gemeldet"} {
		if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl(name)); st != http.StatusOK {
			t.Fatalf("%s after opt-in (proxy): %d %s", name, st, b)
		}
		if st, b, _ := post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json",
			[]byte(`{"phone_number_id":"`+pnid+`","message":`+string(tpl(name))+`}`)); st != http.StatusAccepted && st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("%s after opt-in (queued): %d %s", name, st, b)
		}
	}
}
