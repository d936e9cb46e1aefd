package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

// rssMB reads the process's resident set size.
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// ioMB reads how much this process has written, in MB: wchar (every
// write, sockets included) and write_bytes (what it sent to the disk).
func ioMB() (wchar, disk float64) {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		switch k {
		case "wchar":
			wchar = n / (1 << 20)
		case "write_bytes":
			disk = n / (1 << 20)
		}
	}
	return wchar, disk
}

// cpuSeconds is the CPU time (user and system) this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkHistoryImport100k imports a six-month chat history of 100 000
// messages (500 customers, 50 chunks of 2 000, delivered out of order)
// through the real webhook and the background importer, while customers
// keep writing live. It reports the import rate, RSS before, during and
// after, and the live webhooks' acknowledgement latency (POST to 200,
// p50/p99) during the import.
//
// Pace: Meta documents none for history (three phases, chunks in any
// order). The 50 chunk webhooks (~250 KB each) are posted one after the
// other, each as soon as the last was acknowledged, the harshest pace a
// sender waiting for its 200 can keep; live customer messages come every
// 20 ms on their own connection from the start of the import to its end.
// hist_ack_p99_ms is the history webhooks' own acknowledgement time;
// live_import_p99_ms is the live p99 once every history webhook was
// acknowledged (the import alone, without 12 MB arriving alongside).
// Latencies on a shared machine depend on its load (idle_p99_ms is the
// same live traffic without an import, just before it); written_MB (what
// the process wrote, WAL and checkpoints included) and cpu_s (its CPU
// time) depend far less on it and show the import's cost.
func BenchmarkHistoryImport100k(b *testing.B) {
	const customers, chunks, perChunk = 500, 50, 2000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g := testenv.New(b, testenv.Options{})
		sim := simulator.New(simulator.Options{})
		start := time.Now().Add(-183 * 24 * time.Hour)
		step := (183 * 24 * time.Hour) / (chunks * perChunk)
		var bodies [][]byte
		n := 0
		for c := 0; c < chunks; c++ {
			threads := map[string]*simulator.HistoryThread{}
			var order []string
			for m := 0; m < perChunk; m++ {
				wa := fmt.Sprintf("49151%08d", (n*7919)%customers)
				th := threads[wa]
				if th == nil {
					th = &simulator.HistoryThread{WaID: wa}
					threads[wa] = th
					order = append(order, wa)
				}
				th.Messages = append(th.Messages, simulator.HistoryLine{FromBusiness: m%3 == 0, Text: fmt.Sprintf("Nachricht %d aus dem alten Chat", n),
					At: start.Add(time.Duration(n) * step), WAMID: fmt.Sprintf("wamid.hist.%d", n)})
				n++
			}
			var list []simulator.HistoryThread
			for _, wa := range order {
				list = append(list, *threads[wa])
			}
			bodies = append(bodies, sim.HistoryChunk(1, c+1, (c+1)*100/chunks, list))
		}
		// Out of order: odd chunks first.
		var shuffled [][]byte
		for j := 1; j < len(bodies); j += 2 {
			shuffled = append(shuffled, bodies[j])
		}
		for j := 0; j < len(bodies); j += 2 {
			shuffled = append(shuffled, bodies[j])
		}
		// The same live traffic without an import, to compare against.
		var base []time.Duration
		for k := 0; k < 100; k++ {
			time.Sleep(20 * time.Millisecond)
			t0 := time.Now()
			g.PostWebhook(b, liveBody(1_000_000+k))
			base = append(base, time.Since(t0))
		}
		slices.Sort(base)
		runtime.GC()
		rssStart := rssMB()
		_, wStart := ioMB()
		cpuStart := cpuSeconds()
		b.StartTimer()
		began := time.Now()

		ctx, cancel := context.WithCancel(context.Background())
		kick := make(chan struct{}, 1)
		imp := &gateway.HistoryImporter{Store: g.Store, Kick: kick, Poll: 20 * time.Millisecond}
		done := make(chan struct{})
		go func() { defer close(done); imp.Run(ctx) }()

		// Live traffic during the import: one customer message every 20 ms.
		var mu sync.Mutex
		var lat []time.Duration
		var posted time.Time         // the last history webhook was acknowledged
		var latAfter []time.Duration // live webhooks sent after that: the import alone
		liveStop := make(chan struct{})
		liveDone := make(chan struct{})
		go func() {
			defer close(liveDone)
			for k := 0; ; k++ {
				select {
				case <-liveStop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				body := liveBody(k)
				t0 := time.Now()
				resp := g.PostWebhook(b, body)
				d := time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("live webhook: %d", resp.StatusCode)
				}
				mu.Lock()
				lat = append(lat, d)
				if !posted.IsZero() && t0.After(posted) {
					latAfter = append(latAfter, d)
				}
				mu.Unlock()
			}
		}()
		var histLat []time.Duration
		for _, body := range shuffled {
			t0 := time.Now()
			if resp := g.PostWebhook(b, body); resp.StatusCode != http.StatusOK {
				b.Fatalf("history webhook: %d", resp.StatusCode)
			}
			histLat = append(histLat, time.Since(t0))
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		mu.Lock()
		posted = time.Now()
		mu.Unlock()
		rssMid := 0.0
		for {
			p, err := g.Store.HistoryImports(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if rssMid == 0 && len(p) == 1 && p[0].Imported > chunks*perChunk/2 {
				rssMid = rssMB()
			}
			if len(p) == 1 && p[0].Pending == 0 && p[0].Chunks == chunks {
				if p[0].Imported != chunks*perChunk {
					b.Fatalf("imported %d of %d", p[0].Imported, chunks*perChunk)
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		elapsed := time.Since(began)
		close(liveStop)
		<-liveDone
		cancel()
		<-done
		b.StopTimer()
		cpu := cpuSeconds() - cpuStart
		_, wEnd := ioMB()
		rssEnd := rssMB()
		pct := func(lat []time.Duration, q float64) float64 {
			if len(lat) == 0 {
				return 0
			}
			slices.Sort(lat)
			return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
		}
		b.ReportMetric(float64(chunks*perChunk)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(rssStart, "rss_start_MB")
		b.ReportMetric(rssMid, "rss_mid_MB")
		b.ReportMetric(rssEnd, "rss_end_MB")
		b.ReportMetric(pct(lat, 0.5), "live_p50_ms")
		b.ReportMetric(pct(lat, 0.99), "live_p99_ms")
		b.ReportMetric(pct(latAfter, 0.99), "live_import_p99_ms")
		b.ReportMetric(float64(len(lat)), "live_msgs")
		b.ReportMetric(wEnd-wStart, "written_MB")
		b.ReportMetric(cpu, "cpu_s")
		b.ReportMetric(float64(base[98].Microseconds())/1000, "idle_p99_ms")
		slices.Sort(histLat)
		b.ReportMetric(float64(histLat[len(histLat)*99/100].Microseconds())/1000, "hist_ack_p99_ms")
		g.Close()
		b.StartTimer()
	}
}

// liveBody is one customer text, as live traffic during an import.
func liveBody(k int) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Live"},"wa_id":"4916%08d"}],"messages":[{"from":"4916%08d","id":"wamid.live.%d","timestamp":"%d","type":"text","text":{"body":"Hallo, live"}}]}}]}]}`, k%50, k%50, k, time.Now().Unix()))
}
