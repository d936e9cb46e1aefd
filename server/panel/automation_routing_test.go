package panel_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// An admin edits a number's routing rules on the automations page: two
// rules added and the second moved up are stored in the new order, an
// unknown team is refused in German naming the field and nothing is
// saved, every change is audited, and an agent may not change rules.
func TestAutomationsRoutingRules(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	const pnid = "106540352242922"
	admin := addNamedUser(t, g.Store, "Chefin", "chefin@example.de", store.RoleAdmin)
	addNamedUser(t, g.Store, "Lea", "lea@example.de", store.RoleAgent)
	deliver(t, g, textWebhook(pnid, "4930123456", "4915112345678", "Erika", "wamid.rr1", time.Now().Unix(), "Hallo"))
	if _, err := g.Store.CreateTeam(ctx, store.UserActor(admin.ID), "Buchhaltung", time.Now()); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, g.Public.URL)
	b.login("chefin@example.de")
	p := b.post("/automations/"+pnid+"/routing", url.Values{"name": {"Rechnungen"}, "keywords": {"rechnung, mahnung"},
		"team": {"Buchhaltung"}, "mode": {"least_busy"}})
	if p.status != 303 {
		t.Fatalf("first rule: %d %s", p.status, p.body[:min(len(p.body), 400)])
	}
	p = b.post("/automations/"+pnid+"/routing", url.Values{"name": {"Eilig"}, "keywords": {"dringend"}, "priority": {"urgent"}})
	if p.status != 303 {
		t.Fatalf("second rule: %d %s", p.status, p.body[:min(len(p.body), 400)])
	}
	if p = b.post("/automations/"+pnid+"/routing/1/up", url.Values{}); p.status != 303 {
		t.Fatalf("move up: %d", p.status)
	}
	want := []string{"Eilig", "Rechnungen"}
	if got := storedRuleNames(t, g.Store, pnid); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("stored order %v, want %v", got, want)
	}
	p = b.get("/automations?number=" + pnid)
	if !strings.Contains(p.body, `class="table rowcards" data-testid="routing-rules"`) || strings.Count(p.body, `data-testid="routing-rule"`) != 2 ||
		strings.Index(p.body, "Eilig") > strings.Index(p.body, "Rechnungen") || !strings.Contains(p.body, "am wenigsten Ausgelasteten") {
		t.Fatalf("page does not show the rules in order")
	}

	p = b.post("/automations/"+pnid+"/routing", url.Values{"name": {"Geist"}, "team": {"Geisterteam"}})
	if p.status != 422 || !strings.Contains(p.body, "Regel 3, Team: Dieses Team gibt es nicht.") || !strings.Contains(p.body, `value="Geist"`) {
		t.Fatalf("unknown team: %d %s", p.status, p.body[:min(len(p.body), 400)])
	}
	if got := storedRuleNames(t, g.Store, pnid); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("refused rule changed the list: %v", got)
	}
	if n := routingAudits(t, g.Store); n != 3 {
		t.Fatalf("%d routing.change audit entries, want 3", n)
	}

	lea := newBrowser(t, g.Public.URL)
	lea.login("lea@example.de")
	for _, path := range []string{"/automations/" + pnid + "/routing", "/automations/" + pnid + "/routing/0/delete", "/automations/" + pnid + "/routing/1/up"} {
		if p := lea.post(path, url.Values{"name": {"X"}, "priority": {"high"}}); p.status != 403 {
			t.Fatalf("agent %s: %d", path, p.status)
		}
	}
	if p = b.post("/automations/"+pnid+"/routing/0/delete", url.Values{}); p.status != 303 {
		t.Fatalf("delete: %d", p.status)
	}
	if got := storedRuleNames(t, g.Store, pnid); strings.Join(got, ",") != "Rechnungen" {
		t.Fatalf("after delete: %v", got)
	}
}

func storedRuleNames(t *testing.T, st *store.Store, pnid string) []string {
	t.Helper()
	raw, err := st.Routing(context.Background(), pnid)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Rules []struct {
			Name string `json:"name"`
		} `json:"rules"`
	}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &spec); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, r := range spec.Rules {
		names = append(names, r.Name)
	}
	return names
}

func routingAudits(t *testing.T, st *store.Store) int {
	t.Helper()
	log, err := st.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range log {
		if e.Action == store.AuditRoutingChange {
			n++
		}
	}
	return n
}
