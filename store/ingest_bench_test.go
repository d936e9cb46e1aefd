package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngestBatch stores deliveries of 100 text messages each through
// the writer; it isolates the database work from HTTP and parsing.
func BenchmarkIngestBatch(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir(), Options{IsStopWord: testStopWord})
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
			d.Messages = append(d.Messages, benchMessage(fmt.Sprintf("wamid.%d", seq)))
		}
		if _, err := s.Ingest(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkIngestConcurrent stores single-message deliveries from 64
// goroutines at once, as concurrent webhooks do: it measures what the group
// commit gives without HTTP and parsing.
func BenchmarkIngestConcurrent(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir(), Options{IsStopWord: testStopWord})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var commits, writes int
	var took time.Duration
	s.opts.OnCommit = func(n int, d time.Duration, _ error) { commits++; writes += n; took += d }
	var seq atomic.Int64
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			d := &Delivery{Body: fmt.Appendf(nil, `{"body %d %x"}`, i, sha256.Sum256(fmt.Appendf(nil, "%d", i))), ReceivedAt: time.Now()}
			d.Messages = append(d.Messages, benchMessage(fmt.Sprintf("wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjA%08d", i)))
			if _, err := s.Ingest(context.Background(), d); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	if commits > 0 {
		b.ReportMetric(float64(writes)/float64(commits), "writes/commit")
		b.ReportMetric(float64(took.Microseconds())/float64(commits), "µs/commit")
	}
}

// benchMessage is one customer's text message, as the benchmarks store it.
func benchMessage(wamid string) InboundMessage {
	return InboundMessage{
		Number: Number{PhoneNumberID: "412095873361844", DisplayPhoneNumber: "4930123456", WABAID: "1"},
		From:   Party{WaID: "4915112345678", Name: "Erika"},
		WAMID:  wamid, Type: "text",
		Text:    sql.NullString{String: "Guten Tag, ist die blaue Laufjacke wieder da?", Valid: true},
		Payload: []byte(`{"body":"Guten Tag, ist die blaue Laufjacke wieder da?"}`), TS: 1790000000,
	}
}
