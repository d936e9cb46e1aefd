package panel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// contactField is the composer's hidden contact field for a conversation,
// as the page renders it.
func contactField(t *testing.T, st *store.Store, conv int64) []string {
	t.Helper()
	cs, err := st.ConversationByID(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	return []string{fmt.Sprint(cs.Contact.ID)}
}

// outboundCount counts outbound messages stored for sending.
func outboundCount(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.Write(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow("SELECT count(*) FROM messages WHERE direction = 'outbound'").Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// The review's case: customer A is erased while an agent has A's
// conversation open; customer B writes next. The reply typed on A's page
// must reach nobody: not by A's old conversation id, and not when the
// conversation the form names now belongs to someone else.
func TestPanelSendFromAnErasedCustomersPageIsRefused(t *testing.T) {
	g := testenv.NewFastSending(t)
	ctx := context.Background()
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	lea := sessionFor(t, g.Gateway, agent)
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4917600000001", "Anna", "wamid.a1", time.Now().Unix(), "Bitte alles löschen"))
	convA := conversationID(t, g.Store, "4917600000001")
	page := lea.get(fmt.Sprintf("/conversations/%d", convA))
	m := regexp.MustCompile(`name="contact" value="(\d+)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("the composer does not carry the contact it was rendered for")
	}
	formA := url.Values{"text": {"Ihre Rechnung liegt bei"}, "contact": {m[1]}}
	if _, err := g.Store.EraseContact(ctx, "4917600000001", store.EraseRequest{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4917600000002", "Bernd", "wamid.b1", time.Now().Unix(), "Guten Tag"))
	convB := conversationID(t, g.Store, "4917600000002")
	if convB == convA || contactField(t, g.Store, convB)[0] == m[1] {
		t.Fatalf("the new customer got the erased one's ids: conversation %d, contact %s", convB, m[1])
	}

	// A's page as it is: its conversation is gone.
	if p := lea.post(fmt.Sprintf("/conversations/%d/send", convA), formA); p.status == http.StatusSeeOther {
		t.Fatalf("send on the erased conversation: %d", p.status)
	}
	// A's form aimed at the conversation B now has (what id reuse did).
	p := lea.post(fmt.Sprintf("/conversations/%d/send", convB), formA)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "gehört nicht mehr zu der Person") {
		t.Fatalf("send for another contact: %d %.400s", p.status, p.body)
	}
	tpl := url.Values{"template": {"x|de"}, "contact": {m[1]}}
	if p := lea.post(fmt.Sprintf("/conversations/%d/template", convB), tpl); p.status != http.StatusConflict {
		t.Fatalf("template for another contact: %d", p.status)
	}
	// A form without the field (a page from before) is refused too.
	if p := lea.post(fmt.Sprintf("/conversations/%d/send", convB), url.Values{"text": {"Hallo"}}); p.status != http.StatusConflict {
		t.Fatalf("send without the contact: %d", p.status)
	}
	// Opening A's page marked A's message read (blue ticks); no message went out.
	if n := len(g.Sim.Requests()) - len(g.Sim.ReadReceipts()); n != 0 {
		t.Fatalf("Meta was called %d times", n)
	}
	if n := outboundCount(t, g.Store); n != 0 {
		t.Fatalf("%d outbound messages were stored", n)
	}
	// In English too.
	if p := lea.post("/account/preferences", url.Values{"lang": {"en"}}); p.status != http.StatusSeeOther {
		t.Fatalf("preferences: %d", p.status)
	}
	if p := lea.post(fmt.Sprintf("/conversations/%d/send", convB), formA); !strings.Contains(p.body, "no longer belongs to the person") {
		t.Fatalf("English message missing: %d", p.status)
	}
	// B's own page sends to B.
	page = lea.get(fmt.Sprintf("/conversations/%d", convB))
	if m := regexp.MustCompile(`name="contact" value="(\d+)"`).FindStringSubmatch(page.body); m == nil || m[1] != contactField(t, g.Store, convB)[0] {
		t.Fatalf("B's composer carries contact %v", m)
	}
	if p := lea.post(fmt.Sprintf("/conversations/%d/send", convB), url.Values{"text": {"Willkommen"}, "contact": contactField(t, g.Store, convB)}); p.status != http.StatusSeeOther {
		t.Fatalf("send to B: %d %.300s", p.status, p.body)
	}
	if body := waitSent(t, g.Sim, "text", 1); !strings.Contains(body, "4917600000002") {
		t.Fatalf("sent to the wrong customer: %s", body)
	}
}
