package cloudapi

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// webhookExamples are the example deliveries beside the checkout, plus
// every change value, message and payload inside them, as fuzz seeds.
func webhookExamples(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	for _, b := range examples(tb) {
		seeds = append(seeds, b)
		n, err := parseNotification(b)
		if err != nil {
			tb.Fatalf("%s: %v", b, err)
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				seeds = append(seeds, c.Value)
				if v, err := decodeMessagesValue(c.Value); err == nil {
					for _, m := range v.Messages {
						seeds = append(seeds, m)
						if dm, err := decodeMessage(m); err == nil && dm.Payload != nil {
							seeds = append(seeds, dm.Payload)
						}
					}
					for _, st := range v.Statuses {
						seeds = append(seeds, st)
					}
				}
			}
		}
	}
	return append(seeds,
		[]byte(`{"entry":[]}`), []byte(`{"entry":null,"object":"x"}`), []byte(`{"Entry":[]}`), []byte(`{"entry":[null,{"changes":null}]}`),
		[]byte(`{"id":"w","type":"","":{"a":1}}`), []byte(`{"id":"w","type":"unknown","unsupported":{},"unknown":{}}`),
		[]byte(`{"id":"w","id":"v"}`), []byte(`{"i\u0064":"w"}`), []byte(`{"body":"a\u00e4\"b","Body":1}`),
		[]byte(`{"messages":[null,{"id":1}],"statuses":[],"contacts":null,"errors":null}`), []byte(`[[[[1e5,-0.5,true,false]]]]`),
		[]byte(`{"from":12.5e3,"timestamp":"17","type":"text","text":{"body":"Grüße\n"},"x":[],"x":{}}`),
		// A malformed receipt beside readable messages; a receipt alone.
		[]byte(`{"messages":[{"id":"a","type":"text","text":{"body":"x"}}],"statuses":[{"id":"s","timestamp":{"seconds":1}}],"contacts":[{"wa_id":[]}]}`),
		[]byte(`{"id":"s","status":"read","timestamp":{"seconds":1},"recipient_id":49}`),
	)
}

// FuzzFastDecodersMatchEncodingJSON holds each fast decoder to the slow
// one: whenever the fast path answers, its answer is exactly what
// encoding/json gives; and it answers for the examples.
func FuzzFastDecodersMatchEncodingJSON(f *testing.F) {
	for _, s := range webhookExamples(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if fast, ok := parseNotificationFast(b); ok {
			slow, err := parseNotification(b)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("notification:\nfast %+v\nslow %+v (%v)", fast, slow, err)
			}
		}
		if fast, ok := decodeMessagesValueFast(b); ok {
			slow, err := decodeMessagesValue(b)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("messages value:\nfast %+v\nslow %+v (%v)", fast, slow, err)
			}
		}
		if fast, ok := decodeStatusFast(b); ok {
			slow, err := decodeStatus(b)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("status:\nfast %+v\nslow %+v (%v)", fast, slow, err)
			}
		}
		if fast, ok := decodeMessageFast(b); ok {
			slow, err := decodeMessage(b)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("message:\nfast %+v\nslow %+v (%v)", fast, slow, err)
			}
		}
		for _, typ := range []string{"text", "image", "audio", "document", "reaction"} {
			m := Message{Type: typ, Payload: b}
			if fast, ok := m.contentFast(); ok {
				if slow := m.content(); !reflect.DeepEqual(fast, slow) {
					t.Fatalf("%s content:\nfast %+v\nslow %+v", typ, fast, slow)
				}
			}
		}
	})
}

// TestFastDecodersTakeTheExamples makes sure the fast path is the one that
// runs for Meta's real shapes, not the fallback.
func TestFastDecodersTakeTheExamples(t *testing.T) {
	for i, b := range examples(t) {
		n, ok := parseNotificationFast(b)
		if !ok {
			t.Errorf("example %d: notification left to encoding/json", i)
			continue
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				if c.Field != "messages" {
					continue
				}
				v, ok := decodeMessagesValueFast(c.Value)
				if !ok {
					t.Errorf("example %d: messages value left to encoding/json", i)
					continue
				}
				for _, raw := range v.Statuses {
					if _, ok := decodeStatusFast(raw); !ok {
						t.Errorf("example %d: status left to encoding/json", i)
					}
				}
				for _, raw := range v.Messages {
					m, ok := decodeMessageFast(raw)
					if !ok {
						t.Errorf("example %d: message left to encoding/json", i)
					}
					if _, ok := m.contentFast(); !ok && !strings.Contains(string(raw), `\`) {
						t.Errorf("example %d: %s content left to encoding/json", i, m.Type)
					}
				}
			}
		}
	}
}

func BenchmarkDecodeDelivery(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cloudapi", "webhooks", "text.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fast bool
	}{{"encoding-json", false}, {"fast", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var n *Notification
				if c.fast {
					n, _ = parseNotificationFast(body)
				} else {
					n, _ = parseNotification(body)
				}
				for _, e := range n.Entry {
					for _, ch := range e.Changes {
						var v *MessagesValue
						if c.fast {
							v, _ = decodeMessagesValueFast(ch.Value)
						} else {
							v, _ = decodeMessagesValue(ch.Value)
						}
						for _, raw := range v.Messages {
							var m Message
							if c.fast {
								m, _ = decodeMessageFast(raw)
								m.contentFast()
							} else {
								m, _ = decodeMessage(raw)
								m.content()
							}
						}
					}
				}
			}
		})
	}
}
