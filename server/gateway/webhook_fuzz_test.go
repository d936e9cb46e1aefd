package gateway_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
)

// FuzzParseDelivery feeds the parser arbitrary authentic bodies: it must
// never panic, never lose the raw body, and only yield messages that can be
// stored (an id and a type).
func FuzzParseDelivery(f *testing.F) {
	names, bodies := testenv.Examples(f, "webhooks")
	for _, n := range names {
		f.Add(bodies[n])
	}
	f.Add([]byte(`{"entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":"w","type":""}]}}]}]}`))
	f.Add([]byte(`{"entry":null}`))
	// One malformed receipt and a message without an id beside readable messages.
	f.Add([]byte(threeMessagesOneBadStatus))
	f.Add([]byte(`{"entry":[{"changes":[{"field":"messages","value":{"contacts":[{"wa_id":{}}],"statuses":7,"messages":[{"id":"w","type":"text"}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := gateway.ParseDelivery(body, time.Unix(1790000000, 0))
		if !bytes.Equal(d.Body, body) {
			t.Fatal("raw body changed")
		}
		for _, m := range d.Messages {
			if m.WAMID == "" || m.Type == "" {
				t.Fatalf("unstorable message %+v", m)
			}
		}
		for _, s := range d.Statuses {
			if s.WAMID == "" {
				t.Fatalf("status without id %+v", s)
			}
		}
		if len(d.Unreadable) > 0 && d.ParseError == "" {
			t.Fatal("unreadable items without a parse error on the delivery")
		}
	})
}
