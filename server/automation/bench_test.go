package automation_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// hundredRules are 100 business numbers' settings (hours and the three
// replies each, 400 settings), the message's number among them.
func hundredRules(b *testing.B) automation.Rules {
	var settings []store.AutomationSetting
	for i := range 100 {
		pnid := strconv.Itoa(100000 + i)
		settings = append(settings,
			store.AutomationSetting{PhoneNumberID: pnid, Kind: store.AutoHours, Spec: weekdays},
			store.AutomationSetting{PhoneNumberID: pnid, Kind: store.AutoWelcome, Spec: `{"enabled": true, "privacy_url": "https://example.de/ds"}`},
			store.AutomationSetting{PhoneNumberID: pnid, Kind: store.AutoAway, Spec: `{"enabled": true, "text": "Ab {{next_opening}}"}`},
			store.AutomationSetting{PhoneNumberID: pnid, Kind: store.AutoWaiting, Spec: `{"enabled": true, "after": "15m"}`})
	}
	rules, errs := automation.Compile(settings)
	if len(errs) > 0 || len(rules) != 100 {
		b.Fatalf("rules: %d %v", len(rules), errs)
	}
	return rules
}

// BenchmarkRuleEvaluation is the decision per inbound message with 100
// numbers' rules in memory, across the week (open and closed times).
func BenchmarkRuleEvaluation(b *testing.B) {
	rules := hundredRules(b)
	c := &store.AutoCandidate{PhoneNumberID: "100042", Type: "text", Text: "Hallo", FirstEver: true, WaID: "4915112345678"}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	replies := 0
	b.ResetTimer()
	for i := range b.N {
		replies += len(rules.Decide(c, start.Add(time.Duration(i%10080)*time.Minute)))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/delivery")
	if replies == 0 {
		b.Fatal("no rule ever matched")
	}
}

// BenchmarkIngestAutomationsOnOff posts the same webhook deliveries over
// HTTP to two gateways in turn, one without automations and one whose
// worker answers (away replies through the outbox to the simulator,
// rate-limited per conversation among 50 customers), and reports both
// throughputs and their ratio from one run.
func BenchmarkIngestAutomationsOnOff(b *testing.B) {
	off := testenv.NewFastSending(b)
	var w *automation.Worker
	on := testenv.NewSending(b, testenv.SendingOptions{Options: testenv.Options{
		Setup: func(st *store.Store, cfg *gateway.Config, _ *panel.Config) {
			w = automation.New(st, cfg.Sender, slog.New(slog.DiscardHandler), automation.Options{Now: func() time.Time {
				return time.Date(2026, 6, 1, 22, 0, 0, 0, time.UTC) // Monday night: every new customer gets an away reply
			}})
			prev := cfg.OnIngest
			cfg.OnIngest = func(d *store.Delivery, res store.IngestResult) { prev(d, res); w.Kick() }
		},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.RunOnce(ctx); err != nil {
		b.Fatal(err)
	}
	pnid := on.Sim.Options().PhoneNumberID
	set := automation.NewSettings(on.Store, nil)
	if _, err := set.SetHours(ctx, store.ActorCLI, pnid, []byte(weekdays)); err != nil {
		b.Fatal(err)
	}
	if _, err := set.SetReply(ctx, store.ActorCLI, pnid, store.AutoAway, []byte(`{"enabled": true}`)); err != nil {
		b.Fatal(err)
	}
	w.Start(ctx)
	var tookOff, tookOn time.Duration
	b.ResetTimer()
	for i := range b.N {
		for j, g := range []*testenv.SendingGateway{off, on} {
			body := benchDelivery(pnid, i, j)
			t0 := time.Now()
			if resp := g.PostWebhook(b, body); resp.StatusCode != 200 {
				b.Fatalf("webhook: %d", resp.StatusCode)
			}
			if j == 0 {
				tookOff += time.Since(t0)
			} else {
				tookOn += time.Since(t0)
			}
		}
	}
	b.StopTimer()
	// The "on" side really answered: one away reply per customer.
	testenv.Eventually(b, 20*time.Second, "away replies", func() bool { return len(on.Sim.Accepted()) >= min(b.N, 50) })
	b.ReportMetric(float64(b.N)/tookOff.Seconds(), "off_deliveries/s")
	b.ReportMetric(float64(b.N)/tookOn.Seconds(), "on_deliveries/s")
	b.ReportMetric(100*tookOff.Seconds()/tookOn.Seconds(), "on/off_%")
}

func benchDelivery(pnid string, i, gw int) []byte {
	waID := fmt.Sprintf("49151000000%02d", i%50)
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"value":{"messaging_product":"whatsapp",
"metadata":{"display_phone_number":"4930123456","phone_number_id":"` + pnid + `"},"contacts":[{"profile":{"name":"Kundin"},"wa_id":"` + waID + `"}],
"messages":[{"from":"` + waID + `","id":"wamid.bench` + strconv.Itoa(gw) + `.` + strconv.Itoa(i) + `","timestamp":"` + strconv.FormatInt(time.Now().Unix(), 10) +
		`","type":"text","text":{"body":"Hallo, haben Sie noch geöffnet?"}}]},"field":"messages"}]}]}`)
}
