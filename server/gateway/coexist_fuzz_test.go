package gateway_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
)

// FuzzParseCoexistence feeds echoes, history chunks, address-book and
// group webhooks through the parser: it never panics, keeps the raw body,
// and yields only what the store can keep (ids, group ids, chunk keys).
func FuzzParseCoexistence(f *testing.F) {
	names, bodies := testenv.Examples(f, "coexistence")
	for _, n := range names {
		f.Add(bodies[n])
	}
	f.Add([]byte(`{"entry":[{"changes":[{"field":"history","value":{"metadata":{"phone_number_id":"1"},"history":[{"metadata":{"phase":"x"},"threads":7}]}}]}]}`))
	f.Add([]byte(`{"entry":[{"changes":[{"field":"smb_message_echoes","value":{"metadata":{"phone_number_id":"1"},"message_echoes":[{"id":"w","to":{}}]}}]}]}`))
	f.Add([]byte(`{"entry":[{"changes":[{"field":"group_participants_update","value":{"metadata":{"phone_number_id":"1"},"groups":[{"group_id":"g","added_participants":[{"wa_id":[]}]}]}}]}]}`))
	f.Add([]byte(`{"entry":[{"changes":[{"field":"smb_app_state_sync","value":{"state_sync":[{"type":"contact","contact":{"phone_number":true}}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := gateway.ParseDelivery(body, time.Unix(1790000000, 0))
		if !bytes.Equal(d.Body, body) {
			t.Fatal("raw body changed")
		}
		for _, e := range d.Echoes {
			if e.WAMID == "" || e.Type == "" || e.Number.PhoneNumberID == "" {
				t.Fatalf("unstorable echo %+v", e)
			}
		}
		for _, g := range d.Groups {
			if g.GroupID == "" || g.Type == "" {
				t.Fatalf("group update without id or type %+v", g)
			}
		}
		for _, h := range d.History {
			if h.Key == "" || (!h.Declined && len(h.Value) == 0) {
				t.Fatalf("history chunk that cannot be imported %+v", h)
			}
		}
	})
}
