package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

func pricedStatus(g *testenv.SendingGateway, wamid, recipient, status, pricing string, ts int64) []byte {
	o := g.Sim.Options()
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":%q,"phone_number_id":%q},
		"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q,"pricing":%s}]}}]}]}`,
		o.WABAID, o.DisplayPhoneNumber, o.PhoneNumberID, wamid, status, ts, recipient, pricing))
}

// Every message's pricing reaches the API; the cost report counts each
// priced message once per month × number × category × country × agent,
// prices it from the rate table (Germany's shipped marketing rate), and
// keeps a category Meta invents later under its own name without a rate.
func TestCostsFromPricing(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: -1}})
	ctx := context.Background()
	wa := &cloudAPI{BaseURL: g.Internal.URL, Version: "v25.0", Token: g.APIKey, PhoneNumberID: g.Sim.Options().PhoneNumberID}
	const cust = "4915112345678"
	if _, _, err := g.Sim.Write(ctx, simulator.Customer{WaID: cust, Name: "Uwe"}, "text"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, text := range []string{"Ihre Bestellung ist unterwegs", "Neu im Shop"} {
		r, err := wa.sendText(cust, text)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.Messages[0].ID)
	}
	now := time.Now().Unix()
	for _, b := range [][]byte{
		pricedStatus(g, ids[1], cust, "sent", `{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}`, now+1),
		pricedStatus(g, ids[0], cust, "sent", `{"pricing_model":"PMP","type":"regular","category":"agent_reply"}`, now+1),
	} {
		if st, err := g.Sim.PostWebhook(ctx, b); err != nil || st != http.StatusOK {
			t.Fatalf("status webhook: %d %v", st, err)
		}
	}
	st, body := g.API(t, "GET", "/api/v1/messages/"+ids[1], nil)
	var m struct {
		Pricing *struct {
			Category      string `json:"category"`
			Type          string `json:"type"`
			Billable      bool   `json:"billable"`
			KnownCategory bool   `json:"known_category"`
		} `json:"pricing"`
	}
	json.Unmarshal(body, &m)
	if st != 200 || m.Pricing == nil || m.Pricing.Category != "marketing" || !m.Pricing.Billable || !m.Pricing.KnownCategory {
		t.Fatalf("message pricing: %d %s", st, body)
	}
	// A month either side: the statuses carry now+1 s, which may already
	// fall into the next month.
	at := time.Unix(now+1, 0).UTC()
	from, to := at.AddDate(0, -1, 0).Format("2006-01"), at.AddDate(0, 1, 0).Format("2006-01")
	st, body = g.API(t, "GET", "/api/v1/costs?from="+from+"&to="+to, nil)
	var rep struct {
		Data []struct {
			Category      string            `json:"category"`
			KnownCategory bool              `json:"known_category"`
			CountryCode   string            `json:"country_code"`
			Attribution   map[string]string `json:"attribution"`
			Messages      int               `json:"messages"`
			Billable      int               `json:"billable"`
			Cost          *string           `json:"cost"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &rep); err != nil || st != 200 || len(rep.Data) != 2 {
		t.Fatalf("costs: %d %s", st, body)
	}
	byCat := map[string]int{}
	for i, r := range rep.Data {
		byCat[r.Category] = i
	}
	mk, un := rep.Data[byCat["marketing"]], rep.Data[byCat["agent_reply"]]
	if mk.CountryCode != "49" || mk.Messages != 1 || mk.Billable != 1 || mk.Cost == nil || *mk.Cost != "0.1131" ||
		!strings.HasPrefix(mk.Attribution["agent"], "apikey:") {
		t.Fatalf("marketing row: %+v", mk)
	}
	if un.KnownCategory || un.Cost != nil || un.Billable != 1 {
		t.Fatalf("unknown category row: %+v", un)
	}
	st, body = g.API(t, "GET", "/api/v1/costs?from="+from+"&to="+to+"&format=csv", nil)
	if st != 200 || !strings.HasPrefix(string(body), "month,phone_number_id,category,country_code,agent,messages,billable,cost,currency\n") ||
		!strings.Contains(string(body), ",marketing,49,apikey:") || !strings.Contains(string(body), ",1,1,0.1131,EUR\n") {
		t.Fatalf("csv: %d %s", st, body)
	}
	resp, err := http.Get(g.Internal.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(mb), `pforte_priced_messages_total{billable="true",category="agent_reply",type="regular"} 1`) {
		t.Fatalf("metrics lack the priced counter:\n%s", mb)
	}
	if st, body = g.API(t, "GET", "/api/v1/costs?from=2026-13", nil); st != 400 || !strings.Contains(string(body), "from") {
		t.Fatalf("bad month: %d %s", st, body)
	}
}
