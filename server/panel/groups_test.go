package panel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// A group has its own conversation with its participants and the member
// who wrote each message; a reply goes to the group, never to the member;
// the member's own window does not move; buttons are refused in a group.
func TestGroupConversationRepliesGoToTheGroup(t *testing.T) {
	sg := testenv.NewFastSending(t)
	ctx := context.Background()
	agent := addUser(t, sg.Store, "agent@example.de", store.RoleAgent)
	b := sessionFor(t, sg.Gateway, agent)
	jonas := simulator.Customer{WaID: "4915112340005", Name: "Jonas Brandt"}
	mia := simulator.Customer{WaID: "4915112340006", Name: "Mia Kaya"}
	so := sg.Sim.Options()
	old := time.Now().Add(-30 * time.Hour).Unix()
	deliver(t, sg.Gateway, textWebhook(so.PhoneNumberID, so.DisplayPhoneNumber, jonas.WaID, jonas.Name, "wamid.jonas.old", old, "Hallo"))

	group, st, err := sg.Sim.CreateGroup(ctx, "Küchenbestellung")
	if err != nil || st != 200 {
		t.Fatalf("create group: %d %v", st, err)
	}
	for _, c := range []simulator.Customer{jonas, mia} {
		if st, err := sg.Sim.JoinGroup(ctx, group, c); err != nil || st != 200 {
			t.Fatalf("join: %d %v", st, err)
		}
	}
	wamid, st, err := sg.Sim.WriteGroup(ctx, jonas, group, "Ich nehme zwei Portionen")
	if err != nil || st != 200 {
		t.Fatalf("group message: %d %v", st, err)
	}
	refs, err := sg.Store.ConversationsOfWAMIDs(ctx, []string{wamid, "wamid.jonas.old"})
	if err != nil || len(refs) != 2 || refs[0].ConversationID == refs[1].ConversationID {
		t.Fatalf("group message in the member's thread: %+v %v", refs, err)
	}
	conv := refs[0].ConversationID
	if refs[0].WAMID != wamid {
		conv = refs[1].ConversationID
	}
	p := b.get(fmt.Sprintf("/conversations/%d", conv))
	if p.status != http.StatusOK || !strings.Contains(p.body, "Küchenbestellung") || !strings.Contains(p.body, "Jonas Brandt, +4915112340006") {
		t.Fatalf("group page %d lacks the subject or participants", p.status)
	}
	if !strings.Contains(p.body, `data-testid="group-sender">Jonas Brandt<`) {
		t.Error("the group message does not name who wrote it")
	}
	// The member's own conversation keeps yesterday's closed window.
	jc := conversationID(t, sg.Store, jonas.WaID)
	cs, err := sg.Store.ConversationByID(ctx, jc)
	if err != nil || cs.LastInboundAt != old {
		t.Fatalf("member's window moved: %d (was %d) %v", cs.LastInboundAt, old, err)
	}

	// Buttons are not allowed in groups: refused before anything is queued.
	contact := fmt.Sprint(contactOf(t, sg.Store, conv))
	p = b.post(fmt.Sprintf("/conversations/%d/interactive", conv), url.Values{"contact": {contact}, "kind": {"button"}, "body": {"Wann?"}, "b1": {"Jetzt"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "In Gruppen erlaubt WhatsApp keine Knöpfe") {
		t.Fatalf("buttons in a group: %d", p.status)
	}
	// A text reply goes to the group.
	p = multipartPost(t, b, fmt.Sprintf("/conversations/%d/send", conv), map[string]string{"contact": contact, "text": "Notiert, bis 12 Uhr!"}, "", "", nil)
	if p.status >= 400 {
		t.Fatalf("reply: %d %s", p.status, p.body)
	}
	body := waitSent(t, sg.Sim, "text", 1)
	if !strings.Contains(body, `"recipient_type":"group"`) || !strings.Contains(body, `"to":"`+group+`"`) {
		t.Fatalf("reply not addressed to the group: %s", body)
	}
	if n := len(sg.Sim.Accepted()); n != 1 {
		t.Errorf("%d sends reached Meta, want only the text", n)
	}
}

// contactOf returns the contact a conversation belongs to.
func contactOf(t *testing.T, st *store.Store, conv int64) int64 {
	t.Helper()
	cs, err := st.ConversationByID(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	return cs.Contact.ID
}

// Meta's limits are checked before sending and named in German; nothing
// reaches Meta when one is broken.
func TestInteractiveLimitsCheckedBeforeSending(t *testing.T) {
	sg := testenv.NewFastSending(t)
	agent := addUser(t, sg.Store, "agent@example.de", store.RoleAgent)
	b := sessionFor(t, sg.Gateway, agent)
	so := sg.Sim.Options()
	deliver(t, sg.Gateway, textWebhook(so.PhoneNumberID, so.DisplayPhoneNumber, "4915112349999", "Erika", "wamid.lim1", time.Now().Unix(), "Hallo"))
	conv := conversationID(t, sg.Store, "4915112349999")
	contact := fmt.Sprint(contactOf(t, sg.Store, conv))
	path := fmt.Sprintf("/conversations/%d/interactive", conv)
	eleven := ""
	for i := 1; i <= 11; i++ {
		eleven += fmt.Sprintf("Zeile %d\n", i)
	}
	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"long button", url.Values{"kind": {"button"}, "body": {"Wann?"}, "b1": {strings.Repeat("x", 21)}}, "Knopf 1: höchstens 20 Zeichen"},
		{"same buttons", url.Values{"kind": {"button"}, "body": {"Wann?"}, "b1": {"Ja"}, "b2": {"Ja"}}, "Knopf 2: Jeder Eintrag muss anders lauten"},
		{"no body", url.Values{"kind": {"button"}, "b1": {"Ja"}}, "Text fehlt"},
		{"long body", url.Values{"kind": {"button"}, "body": {strings.Repeat("ä", 1025)}, "b1": {"Ja"}}, "Text: höchstens 1024 Zeichen"},
		{"long footer", url.Values{"kind": {"button"}, "body": {"Wann?"}, "footer": {strings.Repeat("f", 61)}, "b1": {"Ja"}}, "Fußzeile: höchstens 60 Zeichen"},
		{"eleven rows", url.Values{"kind": {"list"}, "body": {"Welche?"}, "list_button": {"Wählen"}, "list_rows": {eleven}}, "Zeilen: höchstens 10"},
		{"long row", url.Values{"kind": {"list"}, "body": {"Welche?"}, "list_button": {"Wählen"}, "list_rows": {strings.Repeat("r", 25)}}, "Zeile 1: höchstens 24 Zeichen"},
		{"untitled sections", url.Values{"kind": {"list"}, "body": {"Welche?"}, "list_button": {"Wählen"}, "list_rows": {"A\n##\nB"}}, "Titel von Abschnitt 1 fehlt"},
		{"bad link", url.Values{"kind": {"cta_url"}, "body": {"Hier"}, "cta_text": {"Öffnen"}, "cta_url": {"ftp://example.org"}}, "Link ist ungültig"},
		{"bad place", url.Values{"kind": {"location"}, "lat": {"95"}, "lng": {"13.4"}}, "Koordinaten ist ungültig"},
		{"bad phone", url.Values{"kind": {"contacts"}, "card_name": {"Laden"}, "card_phone": {"12"}}, "Telefonnummer ist ungültig"},
		{"reaction without target", url.Values{"kind": {"reaction"}, "emoji": {"👍"}}, "Nachricht, auf die reagiert wird fehlt"},
	} {
		c.form.Set("contact", contact)
		p := b.post(path, c.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, c.want) {
			t.Errorf("%s: %d, want 422 with %q", c.name, p.status, c.want)
		}
	}
	if n := len(sg.Sim.Accepted()); n != 0 {
		t.Fatalf("%d messages reached Meta despite broken limits", n)
	}
	// Within the limits each kind goes out.
	for _, f := range []url.Values{
		{"kind": {"cta_url"}, "body": {"Ihre Rechnung"}, "cta_text": {"Öffnen"}, "cta_url": {"https://example.org/r/1"}},
		{"kind": {"location_request"}, "body": {"Wo sind Sie?"}},
		{"kind": {"location"}, "lat": {"52,5200"}, "lng": {"13.4050"}, "place_name": {"Laden"}},
		{"kind": {"contacts"}, "card_name": {"Laden Mitte"}, "card_phone": {"+49 30 1234567"}},
		{"kind": {"reaction"}, "emoji": {"👍"}, "context": {"wamid.lim1"}},
	} {
		f.Set("contact", contact)
		if p := b.post(path, f); p.status >= 400 {
			t.Fatalf("%s: %d", f.Get("kind"), p.status)
		}
	}
	for _, typ := range []string{"interactive", "location", "contacts", "reaction"} {
		waitSent(t, sg.Sim, typ, 1)
	}
	body := waitSent(t, sg.Sim, "reaction", 1)
	if !strings.Contains(body, `"message_id":"wamid.lim1"`) {
		t.Errorf("reaction body %s", body)
	}
}
