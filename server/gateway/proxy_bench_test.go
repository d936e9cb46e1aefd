package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

// BenchmarkProxyOverhead sends the same template once straight to the
// simulator and once through Pforte's proxy, alternately, and reports the
// medians and the latency Pforte adds. Pforte's share is two durable
// commits (the message before it leaves, Meta's answer before replying),
// so the disk's fsync time dominates; the tmpfs run shows the rest.
func BenchmarkProxyOverhead(b *testing.B) {
	shm, err := os.MkdirTemp("/dev/shm", "pforte-bench-")
	if err != nil {
		shm = ""
	}
	defer os.RemoveAll(shm)
	for _, disk := range []struct{ name, dir string }{{"disk", ""}, {"tmpfs", shm}} {
		if disk.name == "tmpfs" && disk.dir == "" {
			continue
		}
		b.Run(disk.name, func(b *testing.B) {
			g := testenv.NewSending(b, testenv.SendingOptions{
				Options: testenv.Options{Dir: disk.dir},
				Sender:  outbox.Config{Rate: 1000, PairBurst: 1 << 20},
				Sim:     simulator.Options{StatusDelay: -1},
			})
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			do := func(url, token string, i int) time.Duration {
				body := fmt.Appendf(nil, `{"messaging_product":"whatsapp","to":"+4477%08d","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`, i)
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				if resp.StatusCode != 200 {
					b.Fatalf("HTTP %d", resp.StatusCode)
				}
				return d
			}
			direct := g.GraphAPI.URL + "/v24.0/" + g.Sim.Options().PhoneNumberID + "/messages"
			proxy := g.Internal.URL + "/v24.0/" + g.Sim.Options().PhoneNumberID + "/messages"
			for i := range 20 { // warm connections and statement caches
				do(direct, testenv.Token, 1_000_000+i)
				do(proxy, g.APIKey, 2_000_000+i)
			}
			// At least 500 samples, so that "make bench" (-benchtime 1x)
			// still reports a meaningful median.
			n := max(b.N, 500)
			var d, p []time.Duration
			b.ResetTimer()
			for i := 0; i < n; i++ {
				d = append(d, do(direct, testenv.Token, i))
				p = append(p, do(proxy, g.APIKey, i))
			}
			b.StopTimer()
			slices.Sort(d)
			slices.Sort(p)
			us := func(x time.Duration) float64 { return float64(x.Microseconds()) }
			b.ReportMetric(us(d[len(d)/2]), "direct-p50-µs")
			b.ReportMetric(us(p[len(p)/2]), "proxy-p50-µs")
			b.ReportMetric(us(p[len(p)/2]-d[len(d)/2]), "added-p50-µs")
			b.ReportMetric(us(p[len(p)*99/100]-d[len(d)*99/100]), "added-p99-µs")
			b.ReportMetric(0, "ns/op")

		})
	}
}
