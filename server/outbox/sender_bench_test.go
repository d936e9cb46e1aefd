package outbox_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

// BenchmarkOutboxThroughput queues 2000 (or b.N) templates to different customers
// (16 producers) with the rate limit at Meta's upgraded 1000/s and reports
// how many per second reach the simulator: the outbox's own ceiling.
func BenchmarkOutboxThroughput(b *testing.B) {
	g := testenv.NewSending(b, testenv.SendingOptions{Sender: outbox.Config{Rate: 1000, PairBurst: 100, Concurrency: 64},
		Sim: simulator.Options{StatusDelay: -1}})
	n := max(b.N, 2000) // enough for a rate even under -benchtime 1x
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				enqueueTB(b, g, template(fmt.Sprintf("4478%08d", i), i))
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	testenv.Eventually(b, time.Minute, "all accepted", func() bool { return len(g.Sim.Accepted()) >= n })
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op")
}
