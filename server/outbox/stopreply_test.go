package outbox_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

func TestStopWordIsAnsweredOnce(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sender: outbox.Config{SyncWait: 5 * time.Second}})
	ctx := context.Background()
	tom := simulator.Customer{WaID: "447700900123", Name: "Tom"}
	if _, st, err := g.Sim.Write(ctx, tom, "text"); err != nil || st != 200 {
		t.Fatalf("write: %d %v", st, err)
	}
	stopBody := func(wamid string) []byte {
		return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"value":{"messaging_product":"whatsapp",
"metadata":{"display_phone_number":"4930123456","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Tom"},"wa_id":"447700900123"}],
"messages":[{"from":"447700900123","id":"` + wamid + `","timestamp":"` + strconv.FormatInt(time.Now().Unix(), 10) + `","type":"text","text":{"body":"Stopp!"}}]},"field":"messages"}]}]}`)
	}
	for _, w := range []string{"wamid.stop1", "wamid.stop2"} {
		if resp := g.PostWebhook(t, stopBody(w)); resp.StatusCode != 200 {
			t.Fatalf("stop webhook: %d", resp.StatusCode)
		}
	}
	r := outbox.NewStopReplier(g.Store, g.Sender, slog.New(slog.DiscardHandler))
	r.Once(ctx)
	r.Once(ctx)
	c, err := g.Store.ContactByKey(ctx, "447700900123")
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := g.Store.ContactMessages(ctx, c.ID, store.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	replies := 0
	for _, m := range msgs {
		if m.Direction == "outbound" && m.Text.Valid && m.Text.String == store.DefaultStopReply {
			replies++
		}
	}
	if replies != 1 {
		t.Fatalf("confirmations sent: %d, want exactly 1", replies)
	}
	if p, _ := g.Store.PendingStopReplies(ctx); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	if err := g.Store.CheckMarketingConsent(ctx, c.ID); err == nil {
		t.Fatal("the customer is still opted in")
	}
}
