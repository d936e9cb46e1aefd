package panel_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// TestBrowserAwayReplyAt22 is the admin's story: business hours and an
// away text set in the browser (a refused overlap first, in German), a
// customer (the simulator) writing on a Monday at 22:00, and the away
// reply in the conversation, marked as automatic.
func TestBrowserAwayReplyAt22(t *testing.T) {
	root := chrome(t)
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: time.Date(2026, 6, 1, 22, 0, 0, 0, loc)} // Monday 22:00
	sg := testenv.NewSending(t, testenv.SendingOptions{Options: testenv.Options{
		Setup: func(st *store.Store, _ *gateway.Config, p *panel.Config) {
			p.Automations = automation.NewSettings(st, clk.Now)
		},
	}})
	g := sg.Gateway
	ctx := context.Background()
	addNamedUser(t, g.Store, "Chefin Weber", "chefin@example.de", store.RoleAdmin)
	w := automation.New(g.Store, sg.Sender, slog.New(slog.DiscardHandler), automation.Options{Now: clk.Now})
	if err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	tab := person(t, root)
	do(t, tab,
		chromedp.Navigate(g.Public.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "chefin@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`nav`)),
		chromedp.Navigate(g.Public.URL+"/automations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=hours]`)),
	)
	waitText(t, tab, `[data-testid=automation-cost]`, "Geld kosten")
	// Overlapping ranges: refused in German, nothing saved.
	do(t, tab,
		chromedp.SetValue(chromedp.CSS(`[data-testid=hours-mon]`), "08:00-12:00, 11:00-14:00"),
		chromedp.Click(chromedp.CSS(`[data-testid=hours-save]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=hours-error]`)),
	)
	waitText(t, tab, `[data-testid=hours-error]`, "Montag: Die Zeiträume 08:00–12:00 und 11:00–14:00 überschneiden sich.")
	if _, err := g.Store.Automation(ctx, sg.Sim.Options().PhoneNumberID, store.AutoHours); err == nil {
		t.Fatal("refused hours were saved")
	}
	for _, day := range []string{"mon", "tue", "wed", "thu", "fri"} {
		do(t, tab, chromedp.SetValue(chromedp.CSS(`[data-testid=hours-`+day+`]`), "08:00-12:00, 13:00-18:00"))
	}
	do(t, tab,
		chromedp.SetValue(chromedp.CSS(`[data-testid=hours-state]`), "BY"),
		chromedp.Click(chromedp.CSS(`[data-testid=hours-save]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=hours-status]`)),
	)
	waitText(t, tab, `[data-testid=hours-status]`, "Außerhalb der Geschäftszeiten, öffnet Di 08:00.")
	do(t, tab,
		chromedp.Click(chromedp.CSS(`[data-testid=reply-enabled-away]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid=reply-text-away]`), "Guten Abend! Wir sind ab {{next_opening}} wieder für Sie da."),
		chromedp.Click(chromedp.CSS(`[data-testid=reply-save-away]`)),
	)
	// The old page also shows the hours form, so wait for the flash the
	// redirect after saving brings, not for the form.
	waitText(t, tab, `.flash.ok`, "Automatische Antwort gespeichert.")
	if rep, err := g.Store.Automation(ctx, sg.Sim.Options().PhoneNumberID, store.AutoAway); err != nil || !strings.Contains(rep.Spec, `"enabled":true`) {
		t.Fatalf("away reply not saved: %+v %v", rep, err)
	}

	// 22:00: a customer writes and gets the away reply through the outbox.
	jonas := simulator.Customer{WaID: "4915112340000", Name: "Jonas"}
	if _, st, err := sg.Sim.WriteLine(ctx, jonas, simulator.Line{Text: "Haben Sie morgen geöffnet?"}); err != nil || st != 200 {
		t.Fatalf("customer writes: %d %v", st, err)
	}
	if err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	body := waitSent(t, sg.Sim, "text", 1)
	if !strings.Contains(body, "Wir sind ab Di 08:00 wieder für Sie da.") {
		t.Fatalf("sent to Meta: %s", body)
	}
	conv := conversationID(t, g.Store, jonas.WaID)
	do(t, tab,
		chromedp.Navigate(fmt.Sprintf("%s/conversations/%d?assigned=all&status=open", g.Public.URL, conv)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=thread]`)),
	)
	waitText(t, tab, `[data-testid=thread]`, "Wir sind ab Di 08:00 wieder für Sie da.")
	waitText(t, tab, `.msg.out .author`, "Automatisch: Abwesenheitsnotiz")
	waitText(t, tab, `[data-testid=inbox-hours]`, "öffnet Di 08:00")
	shot(t, tab, "30-automation-conversation")
	// On a phone the page is one column and every form is reachable.
	do(t, tab, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(g.Public.URL+"/automations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=csat]`)))
	wide, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil || wide {
		t.Fatalf("the automations page scrolls sideways on a phone: %v %v", wide, err)
	}
	shot(t, tab, "31-phone-automations")
}
