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
