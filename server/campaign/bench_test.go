package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
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
// meanwhile) and the resident memory before and after.
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

func benchCampaign(b *testing.B, n int) {
	ctx := context.Background()
	sg := testenv.NewSending(b, testenv.SendingOptions{
		Sender:   outbox.Config{Rate: 1000, Concurrency: 64, PairInterval: time.Millisecond},
		Sim:      simulator.Options{StatusDelay: 200 * time.Millisecond, Campaign: simulator.Campaign{FailRate: 0.03, ReplyRate: 0.01, OptOutRate: 0.005}},
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
	rss0 := rssMB()
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
	t2 := time.Now()
	sg.Start()
	peak := rssMB()
	for {
		time.Sleep(500 * time.Millisecond)
		peak = max(peak, rssMB())
		cnt, err := sg.Store.CampaignCounts(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if cnt.Queued == 0 {
			break
		}
	}
	send := time.Since(t2)
	b.StopTimer()
	cnt, _ := sg.Store.CampaignCounts(ctx, c.ID)
	b.ReportMetric(build.Seconds(), "audience-build-s")
	b.ReportMetric(float64(queued)/enqueue.Seconds(), "enqueued/s")
	b.ReportMetric(float64(cnt.Sent+cnt.Failed)/send.Seconds(), "sent/s")
	b.ReportMetric(rss0, "RSS-before-MB")
	b.ReportMetric(peak, "RSS-peak-MB")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d recipients: audience %s, queued %d in %s, sent %d failed %d in %s; counts %+v", n, build, queued, enqueue, cnt.Sent, cnt.Failed, send, *cnt)
}
