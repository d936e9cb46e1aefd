package panel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/server/simulator"
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

// An admin changes a rule in place: the edit link opens the form with the
// rule's values, saving keeps its position, a refused edit shows the
// German error and leaves the stored rule as it was.
func TestRoutingRuleEditedInPlace(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	const pnid = "106540352242922"
	admin := addNamedUser(t, g.Store, "Chefin", "chefin@example.de", store.RoleAdmin)
	deliver(t, g, textWebhook(pnid, "4930123456", "4915112345678", "Erika", "wamid.ed1", time.Now().Unix(), "Hallo"))
	if _, err := g.Store.CreateTeam(ctx, store.UserActor(admin.ID), "Buchhaltung", time.Now()); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, g.Public.URL)
	b.login("chefin@example.de")
	for _, f := range []url.Values{
		{"name": {"Eilig"}, "keywords": {"dringend"}, "priority": {"urgent"}},
		{"name": {"Rechnungen"}, "keywords": {"rechnung"}, "team": {"Buchhaltung"}, "mode": {"least_busy"}},
	} {
		if p := b.post("/automations/"+pnid+"/routing", f); p.status != 303 {
			t.Fatalf("add: %d", p.status)
		}
	}

	p := b.get("/automations?number=" + pnid + "&edit=1")
	for _, want := range []string{"Regel 2 bearbeiten", `action="/automations/` + pnid + `/routing/1"`, `value="Rechnungen"`, `value="rechnung"`,
		`<option value="least_busy" selected>`, `data-testid="routing-save"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("edit form lacks %q", want)
		}
	}

	p = b.post("/automations/"+pnid+"/routing/1", url.Values{"name": {"Rechnungen und Mahnungen"}, "keywords": {"rechnung, mahnung"},
		"team": {"Buchhaltung"}, "mode": {"round_robin"}, "priority": {"high"}})
	if p.status != 303 {
		t.Fatalf("edit: %d %s", p.status, p.body[:min(len(p.body), 400)])
	}
	spec, err := g.Store.Routing(ctx, pnid)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rules":[{"name":"Eilig","if":{"keywords":["dringend"]},"then":{"priority":"urgent"}},{"name":"Rechnungen und Mahnungen","if":{"keywords":["rechnung","mahnung"]},"then":{"team":"Buchhaltung","mode":"round_robin","priority":"high"}}]}`; spec != want {
		t.Fatalf("stored after edit:\n%s\nwant\n%s", spec, want)
	}

	p = b.post("/automations/"+pnid+"/routing/0", url.Values{"name": {"Eilig"}, "team": {"Geisterteam"}})
	if p.status != 422 || !strings.Contains(p.body, "Regel 1, Team: Dieses Team gibt es nicht.") || !strings.Contains(p.body, "Regel 1 bearbeiten") {
		t.Fatalf("refused edit: %d %s", p.status, p.body[:min(len(p.body), 400)])
	}
	if again, _ := g.Store.Routing(ctx, pnid); again != spec {
		t.Fatalf("refused edit changed the rules: %s", again)
	}
	if p := b.post("/automations/"+pnid+"/routing/7", url.Values{"name": {"X"}, "priority": {"high"}}); p.status != 404 {
		t.Fatalf("edit of a rule that is not there: %d", p.status)
	}
	if n := routingAudits(t, g.Store); n != 3 {
		t.Fatalf("%d routing.change audit entries, want 3", n)
	}
}

// Conversations routed to a team while all its members were away wait
// for the team; the first member to switch back to available takes them,
// longest waiting first, and is told so. Closed ones stay where they are.
func TestAvailableAgentTakesWhatWaitedForTheTeam(t *testing.T) {
	sg := testenv.NewSending(t, testenv.SendingOptions{})
	g := sg.Gateway
	ctx := context.Background()
	admin := addNamedUser(t, g.Store, "Chefin", "chefin@example.de", store.RoleAdmin)
	lea := addNamedUser(t, g.Store, "Lea", "lea@example.de", store.RoleAgent)
	team, err := g.Store.CreateTeam(ctx, store.UserActor(admin.ID), "Support", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Store.SetTeamMembers(ctx, store.UserActor(admin.ID), team, []int64{lea.ID}, time.Now()); err != nil {
		t.Fatal(err)
	}
	pnid := sg.Sim.Options().PhoneNumberID
	if _, err := automation.NewSettings(g.Store, nil).SetRouting(ctx, store.KeyActor("test"), pnid,
		[]byte(`{"rules": [{"if": {"keywords": ["rechnung"]}, "then": {"team": "Support"}}]}`)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, g.Public.URL)
	b.login("lea@example.de")
	if p := b.post("/account/availability", url.Values{}); p.status != 303 {
		t.Fatalf("away: %d", p.status)
	}
	w := automation.New(g.Store, nil, slog.New(slog.DiscardHandler), automation.Options{})
	if err := w.RunOnce(ctx); err != nil { // starts reading from here
		t.Fatal(err)
	}
	for i, name := range []string{"Rita", "Rolf", "Resi"} {
		cu := simulator.Customer{WaID: fmt.Sprintf("491511234000%d", i), Name: name}
		if _, st, err := sg.Sim.WriteLine(ctx, cu, simulator.Line{Text: "Frage zur Rechnung"}); err != nil || st != 200 {
			t.Fatalf("customer writes: %d %v", st, err)
		}
	}
	if err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	convs := teamConversations(t, g.Store, team)
	if len(convs) != 3 {
		t.Fatalf("%d conversations routed to the team, want 3", len(convs))
	}
	for _, c := range convs {
		if c.AssigneeID != 0 {
			t.Fatalf("routed to %d while everyone was away", c.AssigneeID)
		}
	}
	closed := convs[0].ID
	if err := g.Store.SetConversationStatus(ctx, closed, "closed"); err != nil {
		t.Fatal(err)
	}

	if p := b.post("/account/availability", url.Values{"available": {"1"}}); p.status != 303 {
		t.Fatalf("back: %d", p.status)
	}
	if p := b.get("/account"); !strings.Contains(p.body, "2 wartende Unterhaltungen wurden Ihnen zugewiesen.") {
		t.Errorf("Lea is not told what she took: %s", p.body[:min(len(p.body), 300)])
	}
	for _, c := range teamConversations(t, g.Store, team) {
		switch {
		case c.ID == closed && c.AssigneeID != 0:
			t.Errorf("closed conversation handed to %d", c.AssigneeID)
		case c.ID != closed && c.AssigneeID != lea.ID:
			t.Errorf("conversation %d with %d, want Lea", c.ID, c.AssigneeID)
		}
	}
	// Switching again hands out nothing twice.
	b.post("/account/availability", url.Values{})
	b.post("/account/availability", url.Values{"available": {"1"}})
	if p := b.get("/account"); strings.Contains(p.body, "zugewiesen") {
		t.Error("a second switch claims to hand out conversations again")
	}
}

func teamConversations(t *testing.T, st *store.Store, team int64) []*store.ConversationSummary {
	t.Helper()
	list, _, err := st.Conversations(context.Background(), store.ConversationFilter{TeamID: team, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list
}
