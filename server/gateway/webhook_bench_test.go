package gateway_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/testenv"
)

// loadResult is what one load run measured.
type loadResult struct {
	perSec   float64
	p50, p99 time.Duration
	failed   int64
	cpu      time.Duration // process CPU (user+system) per request, clients included
}

// runLoad posts every body to url from clients concurrent clients over
// keep-alive loopback connections and measures throughput and latency.
func runLoad(tb testing.TB, url string, bodies, sigs [][]byte, clients int) loadResult {
	tb.Helper()
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	lat := make([]time.Duration, len(bodies))
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(cloudapi.SignatureHeader, string(sigs[i]))
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	cpu := processCPU() - cpu0
	slices.Sort(lat)
	return loadResult{
		perSec: float64(len(bodies)) / took.Seconds(),
		p50:    lat[len(lat)/2],
		p99:    lat[len(lat)*99/100],
		failed: failed.Load(),
		cpu:    cpu / time.Duration(len(bodies)),
	}
}

// processCPU is the CPU time this process has used. On a shared machine it
// is steadier than throughput: it does not count time lost to others.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// signedBatches makes n signed deliveries of perDelivery text messages
// each. With customers > 1 they come from that many customers, chosen at
// random, with random message ids and rising timestamps, as Meta's would:
// then every delivery moves its own conversation and lands in its own
// place in the id index, instead of sharing the pages of one.
func signedBatches(secret []byte, n, perDelivery, customers int, tag string) (bodies, sigs [][]byte) {
	h := fnv.New64a()
	h.Write([]byte(tag))
	rng := rand.New(rand.NewPCG(h.Sum64(), 1))
	seq := 0
	for range n {
		from, ts := benchCustomer, int64(benchTS)
		if customers > 1 {
			from, ts = fmt.Sprintf("49151%08d", rng.IntN(customers)), benchTS+int64(seq/100)
		}
		ids := make([]string, perDelivery)
		for j := range ids {
			seq++
			ids[j] = fmt.Sprintf("wamid.bench.%s.%d", tag, seq)
			if customers > 1 {
				raw := make([]byte, 30)
				for k := range raw {
					raw[k] = byte(rng.Uint32())
				}
				ids[j] = "wamid." + base64.StdEncoding.EncodeToString(raw)
			}
		}
		b := benchBodyFrom(from, ts, ids)
		bodies = append(bodies, b)
		sigs = append(sigs, []byte(cloudapi.Sign(secret, b)))
	}
	return bodies, sigs
}

const (
	benchCustomer = "4915112345678"
	benchTS       = 1790001112
)

// benchBody is a delivery of text messages from one customer.
func benchBody(ids []string) []byte { return benchBodyFrom(benchCustomer, benchTS, ids) }

func benchBodyFrom(waID string, ts int64, ids []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":"412095873361844"},"contacts":[{"profile":{"name":"Erika Mustermann"},"wa_id":%q}],"messages":[`, waID)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":"Guten Tag, ist die blaue Laufjacke in Größe M wieder da? (%d)"}}`, waID, id, ts, i)
	}
	b.WriteString(`]},"field":"messages"}]}]}`)
	return b.Bytes()
}

// BenchmarkWebhook compares durable ingest with a trivial net/http handler
// that only reads the body and with the durable floor (durableAppend), on
// the same machine in the same run. Run with -benchtime 1x: each case
// sends a fixed number of deliveries.
//
//	go test -tags '...' -run '^$' -bench Webhook -benchtime 1x ./server/
func BenchmarkWebhook(b *testing.B) {
	const clients = 64
	cases := []struct {
		name        string
		deliveries  int
		perDelivery int
		customers   int
		handler     string // "trivial", "floor" or "" for Pforte
	}{
		{name: "trivial-handler/1msg", deliveries: 20000, perDelivery: 1, handler: "trivial"},
		{name: "durable-floor/1msg", deliveries: 20000, perDelivery: 1, handler: "floor"},
		{name: "pforte/1msg", deliveries: 20000, perDelivery: 1},
		{name: "pforte/1msg-5000-customers", deliveries: 20000, perDelivery: 1, customers: 5000},
		{name: "trivial-handler/100msg", deliveries: 1000, perDelivery: 100, handler: "trivial"},
		{name: "pforte/100msg", deliveries: 1000, perDelivery: 100},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s/clients=%d", c.name, clients), func(b *testing.B) {
			var url string
			secret := []byte("bench-secret")
			switch c.handler {
			case "trivial":
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Write([]byte("ok"))
				}))
				defer srv.Close()
				url = srv.URL + "/webhook"
			case "floor":
				srv := httptest.NewServer(durableAppend(b))
				defer srv.Close()
				url = srv.URL + "/webhook"
			default:
				g := testenv.New(b, testenv.Options{})
				secret = g.AppSecret
				url = g.Public.URL + "/webhook"
			}
			var res loadResult
			for i := range b.N {
				bodies, sigs := signedBatches(secret, c.deliveries, c.perDelivery, c.customers, fmt.Sprintf("%s.%d", c.name, i))
				b.ResetTimer()
				res = runLoad(b, url, bodies, sigs, clients)
			}
			if res.failed > 0 {
				b.Fatalf("%d deliveries failed", res.failed)
			}
			b.ReportMetric(res.perSec, "deliveries/s")
			b.ReportMetric(res.perSec*float64(c.perDelivery), "msgs/s")
			b.ReportMetric(float64(res.p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(res.p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(res.cpu.Microseconds()), "cpu-µs/delivery")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// durableAppend is the least any handler must do to acknowledge durably:
// read the body, append it to a file, and answer once an fdatasync covers
// it, with one write and one sync for every request that arrived meanwhile
// (fsync, not fdatasync: appending changes the size, which both must write).
// Its throughput is the floor the disk sets for every durable design.
func durableAppend(tb testing.TB) http.Handler {
	f, err := os.Create(filepath.Join(tb.TempDir(), "append.log"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	type req struct {
		body []byte
		done chan error
	}
	reqs := make(chan req, 1024)
	go func() {
		var buf []byte
		var waiting []chan error
		for r := range reqs {
			buf, waiting = append(buf[:0], r.body...), append(waiting[:0], r.done)
		drain:
			for {
				select {
				case r := <-reqs:
					buf, waiting = append(buf, r.body...), append(waiting, r.done)
				default:
					break drain
				}
			}
			_, err := f.Write(buf)
			if err == nil {
				err = f.Sync()
			}
			for _, w := range waiting {
				w <- err
			}
		}
	}()
	tb.Cleanup(func() { close(reqs) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		done := make(chan error, 1)
		reqs <- req{body, done}
		if err := <-done; err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})
}
