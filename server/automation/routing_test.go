package automation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/store"
)

var ctxBG = context.Background()

func mkUser(t *testing.T, st *store.Store, email string) int64 {
	t.Helper()
	u, err := st.CreateUser(ctxBG, store.NewUser{Email: email, Name: email, Role: store.RoleAgent}, false)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func mkTeam(t *testing.T, st *store.Store, name string, members ...int64) int64 {
	t.Helper()
	id, err := st.CreateTeam(ctxBG, store.KeyActor("test"), name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetTeamMembers(ctxBG, store.KeyActor("test"), id, members, time.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

// routeOf is the routing state of a customer's conversation.
func (r *rig) routeOf(t *testing.T, waID string) store.ConversationRoute {
	t.Helper()
	id, err := r.g.Store.ConversationOf(ctxBG, r.pnid, waID)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := r.g.Store.ConversationRouting(ctxBG, id)
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

func customer(i int) simulator.Customer {
	return simulator.Customer{WaID: fmt.Sprintf("49151000%05d", i), Name: fmt.Sprintf("Kunde %d", i)}
}

// The first rule that holds decides: a keyword as a whole word (not
// inside another word), a label the conversation got later (it is still
// unassigned, so its next message is routed), the customer's language by
// phone prefix, and a contact field from the address book.
func TestRoutingRulesMatchKeywordLabelLanguageField(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 10:00"))
	st := r.g.Store
	billing, vipAgent, english, trade := mkUser(t, st, "buchhaltung@example.de"), mkUser(t, st, "vip@example.de"),
		mkUser(t, st, "english@example.de"), mkUser(t, st, "gewerbe@example.de")
	vip, err := st.CreateLabel(ctxBG, "VIP", "#f00")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveContactField(ctxBG, store.ContactField{Key: "kundentyp", Label: "Kundentyp", Kind: store.FieldText}, store.KeyActor("test"), time.Now()); err != nil {
		t.Fatal(err)
	}
	r.mustPut(t, "/routing", `{"rules": [
		{"name": "Rechnung", "if": {"keywords": ["rechnung", "offene posten"]}, "then": {"agent": "buchhaltung@example.de", "priority": "high"}},
		{"if": {"labels": ["vip"]}, "then": {"agent": "VIP@example.de", "priority": "urgent"}},
		{"if": {"language": "en"}, "then": {"agent": "english@example.de"}},
		{"if": {"field": {"key": "kundentyp", "equals": "gewerbe"}}, "then": {"agent": "gewerbe@example.de", "labels": ["vip"]}}]}`)

	c1, c2, c3, c4 := customer(1), customer(2), customer(3), customer(4)
	phone := "+" + c4.WaID
	if _, err := st.CreateContact(ctxBG, store.ContactInput{Phone: &phone, Fields: map[string]string{"kundentyp": "gewerbe"}}, store.KeyActor("test"), time.Now()); err != nil {
		t.Fatal(err)
	}
	r.write(t, c1, "text", "Frage zur RECHNUNG vom Mai")
	r.write(t, c2, "text", "Meine Rechnungsadresse hat sich geändert")
	r.write(t, c3, "text", "Ich habe noch Offene Posten, oder?")
	r.write(t, tom, "text", "Where is my order?")
	r.write(t, c4, "text", "Guten Tag")
	r.run(t)

	if got := r.routeOf(t, c1.WaID); got.AssigneeID != billing || got.Priority != 1 {
		t.Errorf("keyword: %+v, want agent %d priority 1", got, billing)
	}
	if got := r.routeOf(t, c2.WaID); got.AssigneeID != 0 {
		t.Errorf("keyword inside a word matched: %+v", got)
	}
	if got := r.routeOf(t, c3.WaID); got.AssigneeID != billing {
		t.Errorf("phrase keyword: %+v", got)
	}
	if got := r.routeOf(t, tom.WaID); got.AssigneeID != english {
		t.Errorf("language: %+v, want %d", got, english)
	}
	if got := r.routeOf(t, c4.WaID); got.AssigneeID != trade {
		t.Errorf("contact field: %+v, want %d", got, trade)
	}
	id4, _ := st.ConversationOf(ctxBG, r.pnid, c4.WaID)
	if labels, _, _ := st.RoutingFacts(ctxBG, id4, 0); len(labels) != 1 || labels[0] != "vip" {
		t.Errorf("label action: %v", labels)
	}

	// c2 stays unassigned; once labelled VIP, the next message routes it.
	id2, _ := st.ConversationOf(ctxBG, r.pnid, c2.WaID)
	if err := st.SetConversationLabel(ctxBG, id2, vip.ID, true); err != nil {
		t.Fatal(err)
	}
	r.write(t, c2, "text", "Hallo?")
	r.run(t)
	if got := r.routeOf(t, c2.WaID); got.AssigneeID != vipAgent || got.Priority != 2 {
		t.Errorf("label: %+v, want %d urgent", got, vipAgent)
	}
	// An assigned conversation is never routed again.
	r.write(t, c1, "text", "where is it, english please")
	r.run(t)
	if got := r.routeOf(t, c1.WaID); got.AssigneeID != billing {
		t.Errorf("re-routed an assigned conversation: %+v", got)
	}
}

// Round robin alternates among the team's available agents and skips
// the one who set themselves away; once back, they get their turn.
func TestRoutingRoundRobinSkipsAwayAgents(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 10:00"))
	st := r.g.Store
	a, b, c := mkUser(t, st, "a@example.de"), mkUser(t, st, "b@example.de"), mkUser(t, st, "c@example.de")
	team := mkTeam(t, st, "Support", a, b, c)
	if err := st.SetAvailable(ctxBG, b, false); err != nil {
		t.Fatal(err)
	}
	r.mustPut(t, "/routing", `{"rules": [{"then": {"team": "support", "mode": "round_robin"}}]}`)
	var got []int64
	for i := range 4 {
		r.write(t, customer(10+i), "text", "Hallo")
		r.run(t)
		cr := r.routeOf(t, customer(10+i).WaID)
		if cr.TeamID != team {
			t.Fatalf("team: %+v", cr)
		}
		got = append(got, cr.AssigneeID)
	}
	if want := []int64{a, c, a, c}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("round robin: %v, want %v (b is away)", got, want)
	}
	if err := st.SetAvailable(ctxBG, b, true); err != nil {
		t.Fatal(err)
	}
	r.write(t, customer(20), "text", "Hallo")
	r.write(t, customer(21), "text", "Hallo")
	r.run(t)
	if x, y := r.routeOf(t, customer(20).WaID).AssigneeID, r.routeOf(t, customer(21).WaID).AssigneeID; x != a || y != b {
		t.Fatalf("after b is back: %d, %d; want %d, %d", x, y, a, b)
	}
}

// Least busy picks the available agent with the fewest open
// conversations; nobody available leaves the conversation with the team.
func TestRoutingLeastBusyAndNobodyAvailable(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 10:00"))
	st := r.g.Store
	a, b := mkUser(t, st, "a@example.de"), mkUser(t, st, "b@example.de")
	team := mkTeam(t, st, "Vertrieb", a, b)
	// a has two open conversations, b one.
	for i, who := range []int64{a, a, b} {
		r.write(t, customer(30+i), "text", "vorher")
		id, err := st.ConversationOf(ctxBG, r.pnid, customer(30+i).WaID)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Assign(ctxBG, id, who); err != nil {
			t.Fatal(err)
		}
	}
	r.run(t)
	r.mustPut(t, "/routing", `{"rules": [{"then": {"team": "Vertrieb", "mode": "least_busy"}}]}`)
	r.write(t, customer(40), "text", "Angebot bitte")
	r.run(t)
	if got := r.routeOf(t, customer(40).WaID); got.AssigneeID != b || got.TeamID != team {
		t.Fatalf("least busy: %+v, want agent %d (1 open) over %d (2 open)", got, b, a)
	}
	// Now both have two; a closed one does not count.
	id, _ := st.ConversationOf(ctxBG, r.pnid, customer(30).WaID)
	if err := st.SetConversationStatus(ctxBG, id, "closed"); err != nil {
		t.Fatal(err)
	}
	r.write(t, customer(41), "text", "Angebot bitte")
	r.run(t)
	if got := r.routeOf(t, customer(41).WaID); got.AssigneeID != a {
		t.Fatalf("least busy after a close: %+v, want %d", got, a)
	}

	for _, u := range []int64{a, b} {
		if err := st.SetAvailable(ctxBG, u, false); err != nil {
			t.Fatal(err)
		}
	}
	r.write(t, customer(42), "text", "Angebot bitte")
	r.run(t)
	if got := r.routeOf(t, customer(42).WaID); got.AssigneeID != 0 || got.TeamID != team {
		t.Fatalf("nobody available: %+v, want team %d only", got, team)
	}
}

// A bot's conversation, a group's and history imports are left alone.
func TestRoutingLeavesBotAndGroupConversationsAlone(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 10:00"))
	st := r.g.Store
	a := mkUser(t, st, "a@example.de")
	team := mkTeam(t, st, "Support", a)
	r.mustPut(t, "/routing", `{"rules": [{"then": {"team": "Support", "priority": "high"}}]}`)
	r.write(t, tom, "text", "for the bot")
	if st, b := r.g.API(t, "PUT", "/api/v1/numbers/"+r.pnid+"/conversations/"+tom.WaID+"/bot", strings.NewReader(`{"active": true}`)); st != 200 {
		t.Fatalf("bot on: %d %s", st, b)
	}
	if resp := r.g.PostWebhook(t, groupMessage(r.pnid)); resp.StatusCode != 200 {
		t.Fatalf("group webhook: %d", resp.StatusCode)
	}
	r.write(t, anna, "text", "normal")
	r.run(t)
	if got := r.routeOf(t, tom.WaID); got != (store.ConversationRoute{}) {
		t.Fatalf("bot conversation routed: %+v", got)
	}
	if got := r.routeOf(t, anna.WaID); got.AssigneeID != a || got.Priority != 1 {
		t.Fatalf("ordinary conversation: %+v", got)
	}
	// The team's inbox filter holds Anna's conversation only: not the
	// bot's, not the group's.
	list, _, err := st.Conversations(ctxBG, store.ConversationFilter{TeamID: team, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Contact.WaID != anna.WaID {
		t.Fatalf("team filter lists %d conversations, want Anna's only", len(list))
	}
}

// Unknown team, agent, label or field: 400 naming the field, the old
// rules stay, one audit entry for the one good change.
func TestRoutingAPIBadInputSavesNothing(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 10:00"))
	st := r.g.Store
	mkUser(t, st, "a@example.de")
	mkTeam(t, st, "Support")
	if _, err := st.CreateLabel(ctxBG, "vip", "#f00"); err != nil {
		t.Fatal(err)
	}
	good := `{"rules": [{"name": "alles", "if": {"keywords": ["hilfe"]}, "then": {"team": "Support", "labels": ["vip"]}}]}`
	r.mustPut(t, "/routing", good)
	for body, field := range map[string]string{
		`{"rules": [{"then": {"team": "Support"}}, {"then": {"team": "Lager"}}]}`:                  "rules[1].then.team",
		`{"rules": [{"then": {"agent": "nobody@example.de"}}]}`:                                    "rules[0].then.agent",
		`{"rules": [{"then": {"team": "Support", "labels": ["vip", "gold"]}}]}`:                    "rules[0].then.labels[1]",
		`{"rules": [{"if": {"labels": ["gold"]}, "then": {"team": "Support"}}]}`:                   "rules[0].if.labels[0]",
		`{"rules": [{"if": {"field": {"key": "x", "equals": "1"}}, "then": {"team": "Support"}}]}`: "rules[0].if.field.key",
		`{"rules": [{"then": {"team": "Support", "priority": "sofort"}}]}`:                         "rules[0].then.priority",
		`{"rules": [{"then": {}}]}`: "rules[0].then",
	} {
		code, b := r.put(t, "/routing", body)
		var e struct {
			Error struct{ Field, Message string }
		}
		_ = json.Unmarshal([]byte(b), &e)
		if code != 400 || e.Error.Field != field || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", body, code, b, field)
		}
	}
	code, b := r.g.API(t, "GET", "/api/v1/numbers/"+r.pnid+"/routing", nil)
	if code != 200 || !strings.Contains(string(b), `"alles"`) || strings.Contains(string(b), "Lager") {
		t.Fatalf("GET after refusals: %d %s", code, b)
	}
	if n := auditCount(t, st, store.AuditRoutingChange); n != 1 {
		t.Fatalf("routing audit entries: %d, want 1", n)
	}
	if code, _ := r.g.API(t, "GET", "/api/v1/numbers/nope/routing", nil); code != 404 {
		t.Fatalf("unknown number: %d", code)
	}
}

// PickAgent directly: round robin wraps, skips the away, least busy ties
// go to the lowest id, nobody available is 0.
func TestPickAgent(t *testing.T) {
	agents := []store.TeamAgent{{UserID: 3, Available: true, Open: 5}, {UserID: 5, Available: false}, {UserID: 7, Available: true, Open: 5}}
	for _, c := range []struct {
		last int64
		mode string
		want int64
	}{{0, automation.ModeRoundRobin, 3}, {3, automation.ModeRoundRobin, 7}, {7, automation.ModeRoundRobin, 3}, {4, automation.ModeRoundRobin, 7},
		{0, automation.ModeLeastBusy, 3}} {
		if got := automation.PickAgent(agents, c.last, c.mode); got != c.want {
			t.Errorf("last %d %s: %d, want %d", c.last, c.mode, got, c.want)
		}
	}
	if got := automation.PickAgent([]store.TeamAgent{{UserID: 1}}, 0, automation.ModeLeastBusy); got != 0 {
		t.Errorf("nobody available: %d", got)
	}
}
