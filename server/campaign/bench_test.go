package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// BenchmarkCampaign100k runs a campaign to 100 000 consenting recipients
// (CAMPAIGN_BENCH_N to change) against the simulator at the number's
// 1 000 messages per second, with realistic failures, replies and
// opt-outs, and reports: the time to build the audience, the enqueue rate
// (the engine's path: render, check, queue in the outbox, unpaced), the
// sustained send rate (outbox → simulator, every status webhook ingested
// meanwhile), the gateway's answer times to that status webhook storm
// (from the simulator's POST to the 200, each after a durable commit),
// and the resident memory and live heap while the campaign goes out.
//
//	go test -tags '...' -run '^$' -bench Campaign100k -benchtime 1x ./server/campaign/
func BenchmarkCampaign100k(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CAMPAIGN_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		benchCampaign(b, n)
	}
}

func rssMB() float64 {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range bytes.Split(status, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmRSS:")) {
			var kb int
			fmt.Sscanf(string(line[6:]), "%d", &kb)
			return float64(kb) / 1024
		}
	}
	return 0
}

// webhookTimer times the simulator's webhook deliveries into fixed
// 100 µs buckets (up to 10 s), so measuring keeps memory flat too.
type webhookTimer struct {
	next    http.RoundTripper
	mu      sync.Mutex
	buckets [100_000]int64
	n       int64
}

func (wt *webhookTimer) RoundTrip(r *http.Request) (*http.Response, error) {
	t0 := time.Now()
	resp, err := wt.next.RoundTrip(r)
	if err == nil && r.URL.Path == "/webhook" {
		i := min(int(time.Since(t0)/(100*time.Microsecond)), len(wt.buckets)-1)
		wt.mu.Lock()
		wt.buckets[i]++
		wt.n++
		wt.mu.Unlock()
	}
	return resp, err
}

// quantile is the upper edge of the bucket holding the q-th answer time.
func (wt *webhookTimer) quantile(q float64) time.Duration {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	want, seen := int64(q*float64(wt.n)+0.5), int64(0)
	for i, c := range wt.buckets {
		if seen += c; c > 0 && seen >= want {
			return time.Duration(i+1) * 100 * time.Microsecond
		}
	}
	return 0
}

func (wt *webhookTimer) reset() {
	wt.mu.Lock()
	wt.buckets, wt.n = [100_000]int64{}, 0
	wt.mu.Unlock()
}

// heldMB is the resident memory after a collection that returns freed
// pages to the system: what the process really holds, not what the
// collector has yet to give back.
func heldMB() float64 {
	debug.FreeOSMemory()
	return rssMB()
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

func benchCampaign(b *testing.B, n int) {
	ctx := context.Background()
	timer := &webhookTimer{next: &http.Transport{MaxIdleConnsPerHost: 128}}
	sg := testenv.NewSending(b, testenv.SendingOptions{
		Sender: outbox.Config{Rate: 1000, Concurrency: 64, PairInterval: time.Millisecond},
		Sim: simulator.Options{StatusDelay: 200 * time.Millisecond, Campaign: simulator.Campaign{FailRate: 0.03, ReplyRate: 0.01, OptOutRate: 0.005},
			KeepRequests: 1000, Client: &http.Client{Timeout: 30 * time.Second, Transport: timer}},
		Campaign: &campaign.Config{Rate: 1000, QuietFrom: 1, QuietTo: 1, SendOnSundaysAndHolidays: true, FailureRate: 0.5},
		Paused:   true,
	})
	sg.ApproveTemplate(b, "angebot", "de", "MARKETING")
	so := sg.Sim.Options()
	// n customers write once (500 per webhook) and opt in.
	for from := 0; from < n; from += 500 {
		var contacts, msgs bytes.Buffer
		for i := from; i < min(from+500, n); i++ {
			if i > from {
				contacts.WriteByte(',')
				msgs.WriteByte(',')
			}
			fmt.Fprintf(&contacts, `{"profile":{"name":"Kunde %d"},"wa_id":"4916%08d"}`, i, i)
			fmt.Fprintf(&msgs, `{"from":"4916%08d","id":"wamid.b.%d","timestamp":"%d","type":"text","text":{"body":"Hallo"}}`, i, i, time.Now().Unix())
		}
		body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
			"metadata":{"display_phone_number":%q,"phone_number_id":%q},"contacts":[%s],"messages":[%s]}}]}]}`,
			so.WABAID, so.DisplayPhoneNumber, so.PhoneNumberID, contacts.String(), msgs.String())
		if resp := sg.PostWebhookSigned(b, []byte(body), cloudapi.Sign(sg.AppSecret, []byte(body))); resp.StatusCode != 200 {
			b.Fatalf("webhook %d", resp.StatusCode)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				ct, err := sg.Store.ContactByKey(ctx, fmt.Sprintf("4916%08d", i))
				if err == nil {
					_, err = sg.Store.RecordConsent(ctx, store.ConsentRecord{ContactID: ct.ID, Purpose: store.PurposeMarketing, Action: store.OptIn,
						Source: "web_form", Evidence: "bench", Actor: "bench"})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rss0, heap0 := rssMB(), heapMB()
	b.ResetTimer()

	t0 := time.Now()
	c, err := sg.Campaigns.Create(ctx, campaign.Input{Name: "Bench", PhoneNumberID: so.PhoneNumberID, Template: "angebot", Language: "de",
		Parameters: []string{"{{name}}"}, Audience: store.AudienceFilter{PhoneNumberID: so.PhoneNumberID}}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	build := time.Since(t0)
	if err := sg.Store.SetCampaignStatus(ctx, c.ID, []store.CampaignStatus{store.CampaignScheduled}, store.CampaignRunning, "", "bench", "", time.Now()); err != nil {
		b.Fatal(err)
	}
	// The engine's path without its pacing: render, prepare, queue.
	t1 := time.Now()
	queued := 0
	for {
		targets, err := sg.Store.PendingRecipients(ctx, c.ID, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(targets) == 0 {
			break
		}
		sends := make([]store.CampaignSend, 0, len(targets))
		for _, t := range targets {
			body, _ := campaign.Render(c, t)
			o, err := sg.Sender.Prepare(ctx, outbox.Request{PhoneNumberID: c.PhoneNumberID, Body: body, Actor: "bench",
				IdempotencyKey: fmt.Sprintf("campaign:%d:%d", c.ID, t.RecipientID)})
			if err != nil {
				b.Fatal(err)
			}
			sends = append(sends, store.CampaignSend{RecipientID: t.RecipientID, Send: o})
		}
		q, _, err := sg.Store.EnqueueCampaign(ctx, c.ID, sends, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		queued += q
	}
	enqueue := time.Since(t1)
	// Sending: the outbox drains at the number's rate while the status
	// webhook storm comes back.
	timer.reset()
	t2 := time.Now()
	sg.Start()
	peak, rss10, heap10, held10 := rssMB(), 0.0, 0.0, 0.0
	for {
		time.Sleep(500 * time.Millisecond)
		rss := rssMB()
		peak = max(peak, rss)
		cnt, err := sg.Store.CampaignCounts(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if rss10 == 0 && cnt.Queued <= queued*9/10 {
			rss10, heap10, held10 = rss, heapMB(), heldMB()
		}
		if cnt.Queued == 0 {
			break
		}
	}
	send := time.Since(t2)
	// The last receipts (read, replies) are still on their way.
	time.Sleep(time.Second)
	rssEnd, heapEnd, heldEnd := rssMB(), heapMB(), heldMB()
	b.StopTimer()
	cnt, _ := sg.Store.CampaignCounts(ctx, c.ID)
	b.ReportMetric(build.Seconds(), "audience-build-s")
	b.ReportMetric(float64(queued)/enqueue.Seconds(), "enqueued/s")
	b.ReportMetric(float64(cnt.Sent+cnt.Failed)/send.Seconds(), "sent/s")
	b.ReportMetric(rss0, "RSS-before-MB")
	b.ReportMetric(rss10, "RSS-at-10%-MB")
	b.ReportMetric(rssEnd, "RSS-end-MB")
	b.ReportMetric(peak, "RSS-peak-MB")
	b.ReportMetric(held10, "held-at-10%-MB")
	b.ReportMetric(heldEnd, "held-end-MB")
	b.ReportMetric(heapEnd-heap0, "heap-growth-MB")
	b.ReportMetric(heapEnd-heap10, "heap-growth-after-10%-MB")
	b.ReportMetric(float64(timer.quantile(0.5).Microseconds())/1000, "webhook-p50-ms")
	b.ReportMetric(float64(timer.quantile(0.99).Microseconds())/1000, "webhook-p99-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d recipients: audience %s, queued %d in %s, sent %d failed %d in %s; %d status/reply webhooks, p50 %s p99 %s p99.9 %s; live heap %.1f → %.1f (10 %%) → %.1f MB; counts %+v",
		n, build, queued, enqueue, cnt.Sent, cnt.Failed, send, timer.n, timer.quantile(0.5), timer.quantile(0.99), timer.quantile(0.999), heap0, heap10, heapEnd, *cnt)
}
