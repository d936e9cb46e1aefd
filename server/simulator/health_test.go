package simulator

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
)

// Receipts carry Meta's pricing: a template in its own category, charged;
// a service reply free before 2026-10-01 and charged from then on; an
// override for categories Meta has not announced.
func TestPricingOnReceipts(t *testing.T) {
	o := Options{Templates: []Template{{Name: "angebot", Category: "MARKETING"}}}
	tpl := &cloudapi.SendRequest{Type: "template", Payload: json.RawMessage(`{"name":"angebot","language":{"code":"de"}}`)}
	text := &cloudapi.SendRequest{Type: "text"}
	before, after := time.Date(2026, 9, 30, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		o        Options
		sr       *cloudapi.SendRequest
		now      time.Time
		cat, typ string
	}{
		{o, tpl, before, "marketing", "regular"},
		{o, text, before, "service", "free_customer_service"},
		{o, text, after, "service", "regular"},
		{Options{PricingCategory: "agent_reply"}, text, after, "agent_reply", "regular"},
	} {
		p := pricingOf(c.o, c.sr, c.now)
		if p["category"] != c.cat || p["type"] != c.typ || p["billable"] != (c.typ == "regular") || p["pricing_model"] != "PMP" {
			t.Errorf("%s at %s: %v, want %s/%s", c.sr.Type, c.now.Format(time.DateOnly), p, c.cat, c.typ)
		}
	}
}
