package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func textSend(pnid, waID, text string, actor Actor, now time.Time) OutboundSend {
	return OutboundSend{PhoneNumberID: pnid, WaID: waID, PairKey: pnid + ":" + waID, Type: "text", Text: &text,
		Body:        []byte(`{"messaging_product":"whatsapp","to":"` + waID + `","type":"text","text":{"body":"` + text + `"}}`),
		CheckWindow: true, Actor: actor, Now: now}
}

// A person writing in a bot's conversation takes it over: the flag clears
// in the same commit, the audit says who, and subscriptions for "other"
// events get a pforte_bot_handover event. An API key writing (the bot
// itself) changes nothing. Erasing the customer removes the event and the
// record of automatic messages.
func TestBotHandoverClearsAndNotifies(t *testing.T) {
	s := openDP(t, nil)
	ctx := context.Background()
	now := time.Now()
	seed(t, s, seedMsg{Number: "100", WaID: "4915112345678", Name: "Erika", WAMID: "wamid.h1", Text: "Hallo", TS: now.Unix()}, now)
	other := mustSub(t, s, EventOther, true)
	msgs := mustSub(t, s, EventMessages, true)
	before := len(queued(t, s, msgs.ID))
	conv, err := s.ConversationOf(ctx, "100", "4915112345678")
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := s.SetBotActive(ctx, KeyActor("bot"), conv, true, now); err != nil || !changed {
		t.Fatalf("bot on: %v %v", changed, err)
	}
	out, err := s.EnqueueSend(ctx, textSend("100", "4915112345678", "Ich bin der Bot", KeyActor("bot"), now))
	if err != nil {
		t.Fatal(err)
	}
	if on, _ := s.BotActive(ctx, conv); !on {
		t.Fatal("the bot's own message handed the conversation over")
	}
	if len(queued(t, s, other.ID)) != 0 {
		t.Fatal("handover event without a handover")
	}
	if _, err := s.EnqueueSend(ctx, textSend("100", "4915112345678", "Hier ist Lea", UserActor(7), now)); err != nil {
		t.Fatal(err)
	}
	if on, _ := s.BotActive(ctx, conv); on {
		t.Fatal("a person wrote and the bot is still active")
	}
	ev := queued(t, s, other.ID)
	if len(ev) != 1 {
		t.Fatalf("handover events queued: %d", len(ev))
	}
	var body string
	if err := s.rdb.QueryRow("SELECT body FROM deliveries WHERE id = ?", ev[0]).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `"field":"pforte_bot_handover"`) || !strings.Contains(body, `"wa_id":"4915112345678"`) || !strings.Contains(body, `"by":"user:7"`) {
		t.Fatalf("event body: %s", body)
	}
	if len(queued(t, s, msgs.ID)) != before {
		t.Fatal("a messages-only subscription got the handover event")
	}
	if err := s.RecordAutomatic(ctx, conv, out.MessageID, AutoAway, 0, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseContact(ctx, "4915112345678", EraseRequest{Actor: "cli", Now: now}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM automation_sends"); n != 0 {
		t.Fatalf("automation_sends left after erasure: %d", n)
	}
	if n := count(t, s, "SELECT count(*) FROM deliveries WHERE body LIKE '%4915112345678%'"); n != 0 {
		t.Fatalf("deliveries naming the erased customer: %d", n)
	}
}

// The dashboard's automation cost counts what each rule sent and what
// Meta's receipts say was billed.
func TestAutomationCostsFromReceipts(t *testing.T) {
	s := openDP(t, nil)
	ctx := context.Background()
	now := time.Now()
	seed(t, s, seedMsg{Number: "100", WaID: "4915112345678", Name: "Erika", WAMID: "wamid.c1", Text: "Hallo", TS: now.Unix()}, now)
	conv, err := s.ConversationOf(ctx, "100", "4915112345678")
	if err != nil {
		t.Fatal(err)
	}
	for i, billable := range []bool{true, false} {
		out, err := s.EnqueueSend(ctx, textSend("100", "4915112345678", "Wir sind gleich da", AutoActor(AutoAway), now))
		if err != nil {
			t.Fatal(err)
		}
		wamid := "wamid.auto" + string(rune('a'+i))
		if err := s.AcceptOutbound(ctx, out.ID, wamid, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAutomatic(ctx, conv, out.MessageID, AutoAway, 0, now); err != nil {
			t.Fatal(err)
		}
		pricing := []byte(`{"billable":` + map[bool]string{true: "true", false: "false"}[billable] + `,"pricing_model":"PMP","category":"service"}`)
		if _, err := s.Ingest(ctx, &Delivery{Body: []byte("status " + wamid), ReceivedAt: now,
			Statuses: []StatusUpdate{{WAMID: wamid, Status: "delivered", TS: now.Unix(), Recipient: Party{WaID: "4915112345678"}, Pricing: pricing}}}); err != nil {
			t.Fatal(err)
		}
	}
	costs, err := s.AutomationCosts(ctx, now.Add(-time.Hour))
	if err != nil || len(costs) != 1 || costs[0] != (AutomationCost{Rule: AutoAway, Sent: 2, Billable: 1}) {
		t.Fatalf("costs: %+v %v", costs, err)
	}
}
