package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// threeMessagesOneBadStatus is one change with three customer messages and
// a receipt whose timestamp is an object, and a message without an id.
const threeMessagesOneBadStatus = `{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"field":"messages","value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":"412095873361844"},
"contacts":[{"profile":{"name":"Lena"},"wa_id":"4915111111111"}],
"messages":[{"from":"4915111111111","id":"wamid.item1","timestamp":"1790000001","type":"text","text":{"body":"eins"}},
 {"from":"4915111111111","id":"wamid.item2","timestamp":"1790000002","type":"text","text":{"body":"zwei"}},
 {"from":"4915111111111","timestamp":"1790000002","type":"text","text":{"body":"ohne id"}},
 {"from":"4915111111111","id":"wamid.item3","timestamp":"1790000003","type":"text","text":{"body":"drei"}}],
"statuses":[{"id":"wamid.out1","status":"delivered","timestamp":{"seconds":1790000004},"recipient_id":"4915111111111"}]}}]}]}`

// One malformed item does not hide the others of the same change: every
// readable message reaches the inbox, the bad items are counted and kept
// raw, and Meta gets 200.
func TestWebhookMalformedItemKeepsTheRest(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	resp := g.PostWebhook(t, []byte(threeMessagesOneBadStatus))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, w := range []string{"wamid.item1", "wamid.item2", "wamid.item3"} {
		if code, b := g.API(t, "GET", "/api/v1/messages/"+w, nil); code != 200 {
			t.Errorf("%s: %d %s", w, code, b)
		}
	}
	convs, _, err := g.Store.Conversations(ctx, store.ConversationFilter{})
	if err != nil || len(convs) != 1 || convs[0].Unread != 3 || convs[0].LastText != "drei" {
		t.Fatalf("inbox: %v %+v", err, convs)
	}
	if ev, _ := g.Store.EventsByField(ctx, "statuses.unreadable", 5); len(ev) != 1 || !strings.Contains(string(ev[0].Value), `"seconds"`) {
		t.Errorf("bad receipt not kept raw: %+v", ev)
	}
	if ev, _ := g.Store.EventsByField(ctx, "messages.unreadable", 5); len(ev) != 1 || !strings.Contains(string(ev[0].Value), "ohne id") {
		t.Errorf("message without id not kept raw: %+v", ev)
	}
	mresp, err := http.Get(g.Internal.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{"pforte_webhook_parse_errors_total 1", `pforte_webhook_unreadable_items_total{kind="status"} 1`,
		`pforte_webhook_unreadable_items_total{kind="message"} 1`, "pforte_messages_stored_total 3"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// A contact entry that cannot be read is skipped, not the change.
func TestParseDeliveryMalformedContact(t *testing.T) {
	body := strings.Replace(threeMessagesOneBadStatus, `{"profile":{"name":"Lena"},"wa_id":"4915111111111"}`,
		`{"profile":{"name":["Lena"]},"wa_id":"4915111111111"}`, 1)
	d := gateway.ParseDelivery([]byte(body), time.Unix(1790000100, 0))
	if len(d.Messages) != 3 || d.Unreadable["contact"] != 1 || d.Unreadable["status"] != 1 || d.Messages[0].From.WaID != "4915111111111" {
		t.Fatalf("%d messages, unreadable %v", len(d.Messages), d.Unreadable)
	}
}
