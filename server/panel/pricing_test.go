package panel_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// pricingStatus is Meta's "sent" receipt for one of our messages, with
// its pricing object.
func pricingStatus(pnid, waID, wamid string, ts int64, category, typ string) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"1234567890","changes":[{"field":"messages","value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":%q},
"statuses":[{"id":%q,"status":"sent","timestamp":"%d","recipient_id":%q,
"pricing":{"billable":%t,"pricing_model":"PMP","category":%q,"type":%q}}]}}]}]}`,
		pnid, wamid, ts, waID, typ == "regular", category, typ))
}

// Each outbound message shows Meta's pricing: an agent sees a small line
// with the category and whether it is charged, an admin the category,
// type, pricing model, billability and the rate table's price for the
// customer's country; a message Meta did not price shows nothing.
func TestConversationShowsPricingShortForAgentsFullForAdmins(t *testing.T) {
	f := newPanelFixture(t)
	now := time.Now().Unix()
	const pnid, waID = "412095873361844", "4915112345678"
	deliver(t, f.g, textWebhook(pnid, "4930123456", waID, "Erika", "wamid.in.1", now-300, "Gibt es Angebote?"))
	conv := conversationID(t, f.g.Store, waID)
	storeOutbound(t, f.g.Store, conv, "wamid.out.marketing", now-200, "Unser Angebot der Woche", "sent")
	storeOutbound(t, f.g.Store, conv, "wamid.out.service", now-100, "Gern geschehen", "sent")
	storeOutbound(t, f.g.Store, conv, "wamid.out.unpriced", now-50, "Noch etwas?", "sent")
	deliver(t, f.g, pricingStatus(pnid, waID, "wamid.out.marketing", now-199, "marketing", "regular"))
	deliver(t, f.g, pricingStatus(pnid, waID, "wamid.out.service", now-99, "service", "free_customer_service"))

	path := fmt.Sprintf("/conversations/%d?assigned=all&status=all", conv)
	agent := sessionFor(t, f.g, f.agent).get(path)
	if agent.status != 200 {
		t.Fatalf("agent: %d", agent.status)
	}
	for _, want := range []string{
		`data-pricing="short">Marketing · kostenpflichtig</p>`,
		`data-pricing="short">Service · kostenlos</p>`,
	} {
		if !strings.Contains(agent.body, want) {
			t.Fatalf("agent's conversation lacks %q:\n%s", want, agent.body)
		}
	}
	if strings.Contains(agent.body, `data-pricing="full"`) || strings.Contains(agent.body, "PMP") || strings.Contains(agent.body, "0.1131") {
		t.Fatal("an agent sees the admin's full pricing")
	}
	if n := strings.Count(agent.body, `data-testid="pricing"`); n != 2 {
		t.Fatalf("pricing lines for the agent: %d, want 2 (the unpriced message shows none)", n)
	}

	admin := sessionFor(t, f.g, f.admin).get(path)
	for _, want := range []string{
		"Kategorie: marketing · Typ: regular · Preismodell: PMP · kostenpflichtig",
		"0.1131 EUR je Nachricht (+49, Preistabelle vom 2025-07-01)",
		"Kategorie: service · Typ: free_customer_service · Preismodell: PMP · kostenlos",
		"0.0000 EUR je Nachricht (+49",
	} {
		if !strings.Contains(admin.body, want) {
			t.Fatalf("admin's conversation lacks %q:\n%s", want, admin.body)
		}
	}
	if strings.Contains(admin.body, `data-pricing="short"`) {
		t.Fatal("an admin sees only the short pricing")
	}
	// The live thread fragment says the same.
	if p := sessionFor(t, f.g, f.agent).get(fmt.Sprintf("/conversations/%d/thread", conv)); !strings.Contains(p.body, "Marketing · kostenpflichtig") {
		t.Fatalf("thread fragment lacks the pricing:\n%s", p.body)
	}
}
