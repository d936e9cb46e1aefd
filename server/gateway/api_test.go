package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

func textDelivery(from, name, wamid string, ts int64, body string) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123","phone_number_id":"111"},
		"contacts":[{"profile":{"name":%q},"wa_id":%q}],
		"messages":[{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%q}}]}}]}]}`, name, from, from, wamid, ts, body)
}

func TestAPIRequiresAKeyWithScope(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	g.PostWebhook(t, textDelivery("4915100000001", "Anna", "wamid.A1", 1790000000, "Hallo"))
	sendOnly, _, err := g.Store.CreateAPIKey(context.Background(), "sender", store.Scopes{store.ScopeSend})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/messages/wamid.A1", "/api/v1/contacts/4915100000001", "/api/v1/contacts/4915100000001/messages"} {
		for _, c := range []struct {
			auth string
			want int
		}{
			{"", 401},
			{"Bearer ", 401},
			{"Bearer pfk_notarealkey", 401},
			{"Basic " + g.APIKey, 401},
			{"Bearer " + sendOnly, 403},
			{"Bearer " + g.APIKey, 200},
		} {
			req, _ := http.NewRequest("GET", g.Internal.URL+path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s with %q: %d, want %d", path, c.auth, resp.StatusCode, c.want)
			}
		}
	}
}

func TestAPIContactAndPagination(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	now := time.Now().Unix()
	for i := range 7 {
		g.PostWebhook(t, textDelivery("4915100000002", "Bernd", fmt.Sprintf("wamid.B%d", i), now-int64(100-i), fmt.Sprintf("Nachricht %d", i)))
	}
	code, b := g.API(t, "GET", "/api/v1/contacts/+49 151 00000002", nil)
	var c gateway.ContactJSON
	json.Unmarshal(b, &c)
	if code != 200 || c.Name != "Bernd" || c.WaID == nil || *c.WaID != "4915100000002" || c.UserID != nil {
		t.Fatalf("contact: %d %s", code, b)
	}
	if len(c.Windows) != 1 || !c.Windows[0].Open || c.Windows[0].ExpiresAt.Unix() != now-94+24*3600 {
		t.Errorf("window: %+v, want open until %d", c.Windows, now-94+24*3600)
	}
	var got []string
	next := ""
	for pages := 0; pages < 10; pages++ {
		path := "/api/v1/contacts/4915100000002/messages?limit=3"
		if next != "" {
			path += "&before=" + next
		}
		code, b := g.API(t, "GET", path, nil)
		var p gateway.MessagePage
		if err := json.Unmarshal(b, &p); err != nil || code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		for _, m := range p.Data {
			got = append(got, m.ID)
		}
		if next = p.Next; next == "" {
			break
		}
	}
	want := "wamid.B6 wamid.B5 wamid.B4 wamid.B3 wamid.B2 wamid.B1 wamid.B0"
	if strings.Join(got, " ") != want {
		t.Errorf("pages gave %v, want newest first %s", got, want)
	}
	for _, bad := range []string{"?limit=0", "?limit=501", "?limit=x", "?before=-1", "?before=abc"} {
		if code, _ := g.API(t, "GET", "/api/v1/contacts/4915100000002/messages"+bad, nil); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	for _, missing := range []string{"/api/v1/contacts/4915199999999", "/api/v1/messages/wamid.nope", "/api/v1/contacts/DE.unknown/messages"} {
		if code, b := g.API(t, "GET", missing, nil); code != 404 || !strings.Contains(string(b), "not_found") {
			t.Errorf("%s: %d %s, want 404", missing, code, b)
		}
	}
}

func TestMetricsCountDeliveries(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	g.PostWebhook(t, textDelivery("4915100000003", "C", "wamid.C1", 1790000000, "x"))
	g.PostWebhookSigned(t, []byte("{}"), "sha256=00")
	resp, err := http.Get(g.Internal.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, want := range []string{
		`pforte_webhook_deliveries_total{result="accepted"} 1`,
		`pforte_webhook_deliveries_total{result="bad_signature"} 1`,
		`pforte_messages_stored_total 1`,
		`pforte_store_commit_batch_size_count`,
		`pforte_webhook_ack_seconds_bucket`,
	} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
