package fanout_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte/pforte/server/fanout"
	"github.com/pforte/pforte/server/testenv"
)

var benchSeq atomic.Int64

// BenchmarkFanout ingests signed webhooks over loopback from 8 clients
// while forwarding them to 3 receivers, and prints deliveries per second
// in (acknowledged to "Meta") and out (accepted by receivers). The slow and
// dead cases show that receivers do not hold back ingest. Each iteration is
// a round of 1000 deliveries: go test -run '^$' -bench Fanout -benchtime 3x
func BenchmarkFanout(b *testing.B) {
	const round = 1000
	cases := []struct {
		name string
		subs int
		mode string // fast, slow, dead
	}{
		{"no-subscribers", 0, "fast"},
		{"3-fast-receivers", 3, "fast"},
		{"3-slow-receivers-20ms", 3, "slow"},
		{"3-dead-receivers", 3, "dead"},
	}
	rows := map[string]string{}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			g := testenv.New(b, testenv.Options{})
			var rcs []*receiver
			for i := range c.subs {
				rc := newReceiver(b, fmt.Sprintf("bench-receiver-secret-%02d", i))
				url := rc.srv.URL
				switch c.mode {
				case "slow":
					rc.setAnswer(func(received) int { time.Sleep(20 * time.Millisecond); return http.StatusOK })
				case "dead":
					url = deadURL(b)
				}
				subscribeURL(b, g, url, rc.secret)
				rcs = append(rcs, rc)
			}
			w := fanout.New(g.Store, fanout.Options{Timeout: 2 * time.Second})
			w.Start(b.Context())
			b.Cleanup(func() { w.Stop(b.Context()) })

			var inDur, outDur time.Duration
			var queued int64
			expected := 0
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				postConcurrently(b, g, round, 8)
				inDur += time.Since(start)
				if c.mode == "fast" && c.subs > 0 {
					expected += round
					waitFor(b, "receivers caught up", func() bool {
						for _, rc := range rcs {
							if len(rc.accepted()) < expected {
								return false
							}
						}
						return true
					})
					outDur += time.Since(start)
				}
			}
			b.StopTimer()
			subs, _ := g.Store.Subscriptions(b.Context())
			for _, s := range subs {
				queued += s.Queue.Pending
			}
			n := float64(round * b.N)
			in := n / inDur.Seconds()
			b.ReportMetric(in, "in/s")
			out, per := "-", "-"
			if outDur > 0 {
				b.ReportMetric(n*float64(c.subs)/outDur.Seconds(), "out/s")
				out = fmt.Sprintf("%.0f", n*float64(c.subs)/outDur.Seconds())
				per = fmt.Sprintf("%.0f", n/outDur.Seconds())
			}
			rows[c.name] = fmt.Sprintf("%-24s %7d %10.0f %12s %14s %14d", c.name, round*b.N, in, out, per, queued)
		})
	}
	fmt.Fprintf(os.Stdout, "\n%-24s %7s %10s %12s %14s %14s\n", "case", "posted", "in/s", "out/s total", "out/s per sub", "waiting at end")
	for _, c := range cases {
		fmt.Fprintln(os.Stdout, rows[c.name])
	}
}

// postConcurrently posts n distinct signed deliveries from k clients.
func postConcurrently(b *testing.B, g *testenv.Gateway, n, k int) {
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(n))
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if resp := g.PostWebhook(b, textBody(int(benchSeq.Add(1)))); resp.StatusCode != http.StatusOK {
					b.Errorf("webhook answered %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// deadURL is a loopback address where nothing listens.
func deadURL(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/hook"
}
