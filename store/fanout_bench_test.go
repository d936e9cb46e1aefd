package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngestWithSubscriptions measures what queueing fan-out inside the
// ingest transaction costs: single-message deliveries from 8 goroutines
// through the group-commit writer, with 0 and with 3 matching subscriptions.
func BenchmarkIngestWithSubscriptions(b *testing.B) {
	for _, subs := range []int{0, 3} {
		b.Run(fmt.Sprintf("subscriptions=%d", subs), func(b *testing.B) {
			s, err := Open(context.Background(), b.TempDir(), Options{IsStopWord: testStopWord})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for i := range subs {
				if _, _, err := s.CreateSubscription(context.Background(), "bench", SubscriptionInput{
					URL: fmt.Sprintf("http://127.0.0.1:9/%d", i), Events: EventsAll, Enabled: true}); err != nil {
					b.Fatal(err)
				}
			}
			var seq atomic.Int64
			b.SetParallelism(4) // 8 goroutines on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					d := delivery(int(n), time.Now(), EventMessages)
					res, err := s.Ingest(context.Background(), d)
					if err != nil || res.Fanout != subs {
						b.Errorf("ingest: %+v %v", res, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
