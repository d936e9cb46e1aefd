package panel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// demoCustomer is one fictional customer and what they wrote.
type demoCustomer struct {
	waID, name string
	ago        time.Duration
	lines      []string
	replies    []string // agent answers, stored as the outbox would store them
	status     string   // status of the last answer
}

var demoCustomers = []demoCustomer{
	{"4917612345678", "Erika Mustermann", 3 * time.Minute, []string{"Guten Morgen! Ist meine Bestellung 4711 schon unterwegs?", "Ich bin ab 14 Uhr nicht zu Hause."}, []string{"Guten Morgen Frau Mustermann, das Paket ist heute in der Zustellung: https://tracking.example.de/4711"}, "read"},
	{"4915112345679", "Jonas Becker", 11 * time.Minute, []string{"Kann ich den Termin am Donnerstag auf 10 Uhr verschieben?"}, nil, ""},
	{"4917098765432", "Familie Yılmaz", 42 * time.Minute, []string{"Vielen Dank für die schnelle Reparatur 👍"}, []string{"Sehr gern! Melden Sie sich jederzeit."}, "delivered"},
	{"4916012312312", "Sabine Krüger", 2 * time.Hour, []string{"Die Rechnung hat einen Fehler, der Rabatt fehlt."}, []string{"Danke für den Hinweis, ich prüfe das sofort."}, "sent"},
	{"4917255544433", "Mehmet Demir", 5 * time.Hour, []string{"Haben Sie samstags geöffnet?"}, []string{"Ja, samstags von 9 bis 13 Uhr."}, "failed"},
	{"4915901020304", "Lena Hoffmann", 26 * time.Hour, []string{"Ist das Ersatzteil inzwischen eingetroffen?"}, nil, ""},
	{"4917611122233", "Thomas Wagner", 3 * 24 * time.Hour, []string{"Bitte schicken Sie mir das Angebot noch einmal als PDF."}, []string{"Gern, anbei das Angebot."}, "read"},
}

// seedDemo fills a gateway with a believable inbox: customer messages
// through the real webhook, answers as the outbox stores them, labels,
// notes and template status updates.
func seedDemo(t testing.TB, g *testenv.Gateway, agent *store.User) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for i, c := range demoCustomers {
		ts := now.Add(-c.ago)
		for j, line := range c.lines {
			deliver(t, g, textWebhook("106540352242922", "4930123456", c.waID, c.name, fmt.Sprintf("wamid.demo.%d.%d", i, j),
				ts.Add(time.Duration(j-len(c.lines))*time.Minute).Unix(), line))
		}
		conv := conversationID(t, g.Store, c.waID)
		for j, reply := range c.replies {
			storeOutbound(t, g.Store, conv, fmt.Sprintf("wamid.demo.out.%d.%d", i, j), ts.Add(time.Minute).Unix(), reply, c.status)
		}
		if len(c.replies) == 0 {
			continue
		}
		// The customer's message was answered: it is no longer unread.
		if err := g.Store.MarkRead(ctx, conv); err != nil {
			t.Fatal(err)
		}
	}
	labels := map[string]*store.Label{}
	for _, l := range []struct{ name, color string }{{"Reklamation", "red"}, {"Termin", "blue"}, {"Angebot", "green"}} {
		lb, err := g.Store.CreateLabel(ctx, l.name, l.color)
		if err != nil {
			t.Fatal(err)
		}
		labels[l.name] = lb
	}
	set := func(waID, label string) {
		if err := g.Store.SetConversationLabel(ctx, conversationID(t, g.Store, waID), labels[label].ID, true); err != nil {
			t.Fatal(err)
		}
	}
	set("4916012312312", "Reklamation")
	set("4915112345679", "Termin")
	set("4917611122233", "Angebot")
	if agent != nil {
		for _, w := range []string{"4917612345678", "4916012312312"} {
			if err := g.Store.Assign(ctx, conversationID(t, g.Store, w), agent.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := g.Store.AddNote(ctx, conversationID(t, g.Store, "4917612345678"), agent.ID, "Kundin bevorzugt Zustellung vormittags."); err != nil {
			t.Fatal(err)
		}
	}
	_, bodies := testenv.Examples(t, "webhooks")
	for _, name := range []string{"template_status_update_approved", "template_status_update_rejected", "template_status_update_paused"} {
		deliver(t, g, bodies[name])
	}
	if err := g.Store.SaveTemplateText(ctx, "order_shipped_v2", "en_US", "Hi {{1}}, your order {{2}} has shipped and arrives {{3}}."); err != nil {
		t.Fatal(err)
	}
	if err := g.Store.SaveCannedReply(ctx, store.CannedReply{Title: "Begrüßung", Body: "Guten Tag {{name}}, danke für Ihre Nachricht!"}); err != nil {
		t.Fatal(err)
	}
}

// storeOutbound writes an agent's answer the way the outbox records a
// sent message, with its receipt history.
func storeOutbound(t testing.TB, st *store.Store, convID int64, wamid string, ts int64, text, status string) {
	t.Helper()
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		var errs any
		if status == "failed" {
			errs = `[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Message Undeliverable."}}]`
		}
		if _, err := tx.Exec(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, status, status_at, errors, ts, created_at)
			VALUES (?, ?, 'outbound', 'text', ?, json_object('body', ?), ?, ?, ?, ?, ?)`, wamid, convID, text, text, status, ts, errs, ts, ts); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE conversations SET last_message_at = max(last_message_at, ?) WHERE id = ?`, ts, convID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
