package health_test

import (
	"context"
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/health"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// A quality drop read from Meta (the simulator) produces exactly one alarm
// e-mail, however often it is read again, and exactly one resolution
// e-mail when the rating is GREEN again; both go through a real SMTP
// server (Mailpit) over STARTTLS, which it requires. While the SMTP server
// is unreachable the mail waits, the status says mail is failing, and it
// goes out on a later attempt.
func TestQualityDropMailsOnceAndResolves(t *testing.T) {
	mp := testenv.StartMailpit(t, true)
	g := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: -1}})
	ctx := context.Background()
	// The number becomes known to Pforte by its first webhook.
	if _, _, err := g.Sim.Write(ctx, simulator.Customer{WaID: "4915112345678", Name: "Uwe"}, "text"); err != nil {
		t.Fatal(err)
	}
	pnid := g.Sim.Options().PhoneNumberID
	clk := &clock{t: time.Unix(1796000000, 0)}
	mo := health.New(g.Store, g.Client, health.Options{Now: clk.Now, SMTPTLS: &tls.Config{RootCAs: mp.CA.Pool}, Site: "test"})

	// The SMTP server is configured, but at first on a port nobody listens on.
	cfg := health.SMTPConfig{Host: "localhost", Port: testenv.FreePort(t), Security: health.SecuritySTARTTLS,
		User: "pforte", Password: "geheim", From: "pforte@example.com", To: []string{"ops@example.com"}}
	if err := health.SaveSMTP(ctx, g.Store, cfg, store.AuditEntry{Actor: store.ActorCLI, Action: store.AuditSMTPChange}); err != nil {
		t.Fatal(err)
	}

	g.Sim.SetNumber(simulator.NumberState{QualityRating: "YELLOW", Tier: "TIER_2K", Throughput: "STANDARD", NameStatus: "APPROVED", VerifiedName: "Demo"})
	mo.Check(ctx)
	mo.SendMail(ctx)
	st, err := g.Store.AlarmMailStatus(ctx)
	if err != nil || !st.Failing || st.Pending != 1 {
		t.Fatalf("with the SMTP server down: %+v %v", st, err)
	}
	h, _ := g.Store.NumberHealthOf(ctx, pnid)
	if h.QualityRating != "YELLOW" || h.VerifiedName != "Demo" || h.Throughput != "STANDARD" {
		t.Fatalf("health: %+v", h)
	}

	cfg.Port = mp.SMTPPort
	if err := health.SaveSMTP(ctx, g.Store, cfg, store.AuditEntry{Actor: store.ActorCLI, Action: store.AuditSMTPChange}); err != nil {
		t.Fatal(err)
	}
	mo.SendMail(ctx) // the retry is not due yet
	if n := len(mp.Messages(t)); n != 0 {
		t.Fatalf("%d mails before the retry was due", n)
	}
	for range 3 { // read again and again: still YELLOW, still one alarm
		clk.Advance(15 * time.Minute)
		mo.Check(ctx)
		mo.SendMail(ctx)
	}
	g.Sim.SetNumber(simulator.NumberState{QualityRating: "GREEN", Tier: "TIER_2K", Throughput: "STANDARD", NameStatus: "APPROVED", VerifiedName: "Demo"})
	clk.Advance(15 * time.Minute)
	mo.Check(ctx)
	mo.SendMail(ctx)
	mo.Check(ctx)
	mo.SendMail(ctx)

	msgs := mp.Messages(t)
	if len(msgs) != 2 {
		t.Fatalf("want 2 mails, got %d: %+v", len(msgs), msgs)
	}
	// Newest first: the resolution, then the alarm.
	if !strings.Contains(msgs[1].Subject, "Alarm") || !strings.Contains(msgs[1].Subject, "YELLOW") ||
		!strings.Contains(msgs[0].Subject, "Behoben") || !strings.Contains(msgs[0].Subject, "GREEN") ||
		msgs[0].To[0].Address != "ops@example.com" {
		t.Fatalf("mails: %+v", msgs)
	}
	if st, _ := g.Store.AlarmMailStatus(ctx); st.Failing || st.Pending != 0 || st.Sent != 2 {
		t.Fatalf("status after delivery: %+v", st)
	}
	if alarms, _ := g.Store.Alarms(ctx); len(alarms) != 0 {
		t.Fatalf("alarms left: %+v", alarms)
	}
}

// Quality and account webhooks from the simulator go through the real
// gateway and raise the alarms they mean, on the right number and WABA;
// their opposites clear them.
func TestAccountWebhooksRaiseAlarms(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: -1}})
	ctx := context.Background()
	if _, _, err := g.Sim.Write(ctx, simulator.Customer{WaID: "4915112345678", Name: "Uwe"}, "text"); err != nil {
		t.Fatal(err)
	}
	o := g.Sim.Options()
	keys := func() map[string]bool {
		alarms, err := g.Store.Alarms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, a := range alarms {
			m[a.Key] = true
		}
		return m
	}
	if err := g.Sim.PostQualityUpdate(ctx, "FLAGGED", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := g.Sim.PostQualityUpdate(ctx, "DOWNGRADE", "TIER_250", "TIER_2K"); err != nil {
		t.Fatal(err)
	}
	if err := g.Sim.PostAccountUpdate(ctx, map[string]any{"event": "DISABLED_UPDATE", "ban_info": map[string]any{"waba_ban_state": "SCHEDULE_FOR_DISABLE", "waba_ban_date": "2026-12-24"}}); err != nil {
		t.Fatal(err)
	}
	got := keys()
	if !got["quality:"+o.PhoneNumberID] || !got["tier:"+o.PhoneNumberID] || !got["account_ban:"+o.WABAID] || len(got) != 3 {
		t.Fatalf("alarms: %v", got)
	}
	h, _ := g.Store.NumberHealthOf(ctx, o.PhoneNumberID)
	if h.MessagingLimitTier != "TIER_250" {
		t.Fatalf("health: %+v", h)
	}
	g.Sim.PostQualityUpdate(ctx, "UNFLAGGED", "", "")
	g.Sim.PostQualityUpdate(ctx, "UPGRADE", "TIER_2K", "TIER_250")
	g.Sim.PostAccountUpdate(ctx, map[string]any{"event": "DISABLED_UPDATE", "ban_info": map[string]any{"waba_ban_state": "REINSTATE"}})
	if got := keys(); len(got) != 0 {
		t.Fatalf("alarms after the all-clear: %v", got)
	}
}
