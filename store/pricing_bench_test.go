package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCostReport measures the cost report over a month of priced
// messages (one receipt with pricing each), reporting messages/s.
func BenchmarkCostReport(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{IsStopWord: testStopWord})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 20000
	cats := []string{"marketing", "utility", "authentication", "service", "agent_reply"}
	for i := 0; i < n; i += 500 {
		d := &Delivery{Body: []byte(fmt.Sprintf("bench-%d", i)), ReceivedAt: time.Unix(1790000000, 0)}
		for j := i; j < i+500; j++ {
			w := fmt.Sprintf("wamid.b%d", j)
			d.Messages = append(d.Messages, InboundMessage{Number: Number{PhoneNumberID: "412095873361844"},
				From: Party{WaID: fmt.Sprintf("49151%07d", j%300)}, WAMID: w, Type: "text", TS: 1790000000})
			d.Statuses = append(d.Statuses, StatusUpdate{WAMID: w, Status: "sent", TS: 1790000001 + int64(j),
				Recipient: Party{WaID: fmt.Sprintf("49151%07d", j%300)},
				Pricing:   []byte(fmt.Sprintf(`{"billable":true,"pricing_model":"PMP","type":"regular","category":%q}`, cats[j%len(cats)]))})
		}
		if _, err := s.Ingest(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	month := time.Unix(1790000000, 0).UTC().Format("2006-01")
	b.ResetTimer()
	for b.Loop() {
		rows, err := s.CostReport(ctx, month, month)
		if err != nil || len(rows) != len(cats) {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
}
