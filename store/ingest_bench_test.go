package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// BenchmarkIngestBatch stores deliveries of 100 text messages each through
// the writer; it isolates the database work from HTTP and parsing.
func BenchmarkIngestBatch(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seq := 0
	b.ResetTimer()
	for i := range b.N {
		d := &Delivery{Body: fmt.Appendf(nil, "body %d", i), ReceivedAt: time.Now()}
		for range 100 {
			seq++
			d.Messages = append(d.Messages, InboundMessage{
				Number: Number{PhoneNumberID: "412095873361844", DisplayPhoneNumber: "4930123456", WABAID: "1"},
				From:   Party{WaID: "4915112345678", Name: "Erika"},
				WAMID:  fmt.Sprintf("wamid.%d", seq), Type: "text",
				Text:    sql.NullString{String: "Guten Tag, ist die blaue Laufjacke wieder da?", Valid: true},
				Payload: []byte(`{"body":"Guten Tag, ist die blaue Laufjacke wieder da?"}`), TS: 1790000000,
			})
		}
		if _, err := s.Ingest(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
}
