package panel_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestBrowserTeamsAvailabilityAndTeamFilter: an admin makes a team with
// an agent in the browser; the agent sets themselves away and back on the
// account page; a routed conversation shows under the inbox's team
// filter, an unrouted one does not.
func TestBrowserTeamsAvailabilityAndTeamFilter(t *testing.T) {
	root := chrome(t)
	sg := testenv.NewSending(t, testenv.SendingOptions{})
	g := sg.Gateway
	ctx := context.Background()
	addNamedUser(t, g.Store, "Chefin Weber", "chefin@example.de", store.RoleAdmin)
	lea := addNamedUser(t, g.Store, "Lea Agentin", "lea@example.de", store.RoleAgent)
	w := automation.New(g.Store, nil, slog.New(slog.DiscardHandler), automation.Options{})
	if err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	admin := person(t, root)
	do(t, admin,
		chromedp.Navigate(g.Public.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "chefin@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`nav`)),
		chromedp.Navigate(g.Public.URL+"/settings/teams"),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Support"),
		chromedp.Submit(chromedp.CSS(`input[name=name]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=team]`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid=team] input[name=member][value="%d"]`, lea.ID))),
		chromedp.Click(chromedp.CSS(`[data-testid=team] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=team]`)),
	)
	// The old page still shows the team while the members' form is
	// posted, so wait for the store rather than for the page.
	var teams []store.Team
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		teams, err = g.Store.Teams(ctx)
		if err == nil && len(teams) == 1 && len(teams[0].Members) == 1 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(teams) != 1 || teams[0].Name != "Support" || len(teams[0].Members) != 1 || teams[0].Members[0] != lea.ID {
		t.Fatalf("team not saved from the browser: %+v %v", teams, err)
	}

	agent := person(t, root)
	do(t, agent,
		chromedp.Navigate(g.Public.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "lea@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`nav`)),
		chromedp.Navigate(g.Public.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=availability]`)),
	)
	waitText(t, agent, `[data-testid=availability]`, "Sie sind verfügbar")
	do(t, agent, chromedp.Click(chromedp.CSS(`[data-testid=availability] button`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=availability]`)))
	waitText(t, agent, `[data-testid=availability]`, "Sie sind abwesend")
	if on, err := g.Store.Available(ctx, lea.ID); err != nil || on {
		t.Fatalf("away not stored: %v %v", on, err)
	}
	do(t, agent, chromedp.Click(chromedp.CSS(`[data-testid=availability] button`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=availability]`)))
	waitText(t, agent, `[data-testid=availability]`, "Sie sind verfügbar")
	if on, _ := g.Store.Available(ctx, lea.ID); !on {
		t.Fatal("available not stored")
	}

	// Routing: "Rechnung" goes to the team (and so to Lea); the other stays.
	pnid := sg.Sim.Options().PhoneNumberID
	if _, err := automation.NewSettings(g.Store, nil).SetRouting(ctx, store.KeyActor("test"), pnid,
		[]byte(`{"rules": [{"if": {"keywords": ["rechnung"]}, "then": {"team": "Support"}}]}`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who  simulator.Customer
		text string
	}{
		{simulator.Customer{WaID: "4915112340001", Name: "Rita Rechnung"}, "Frage zur Rechnung"},
		{simulator.Customer{WaID: "4915112340002", Name: "Otto Sonstwas"}, "Hallo"},
	} {
		if _, st, err := sg.Sim.WriteLine(ctx, c.who, simulator.Line{Text: c.text}); err != nil || st != 200 {
			t.Fatalf("customer writes: %d %v", st, err)
		}
	}
	if err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	do(t, agent,
		chromedp.Navigate(fmt.Sprintf("%s/inbox?assigned=all&status=open&team=%d", g.Public.URL, teams[0].ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=team-filter]`)),
	)
	waitText(t, agent, `[data-testid=convlist]`, "Rita Rechnung")
	list, err := chromedp.Run(agent, chromedp.Evaluate[string](`document.querySelector('[data-testid=convlist]').innerText`))
	if err != nil || strings.Contains(list, "Otto") {
		t.Fatalf("team filter shows an unrouted conversation: %q %v", list, err)
	}
	sel, err := chromedp.Run(agent, chromedp.Evaluate[string](`document.querySelector('[data-testid=team-filter]').value`))
	if err != nil || sel != fmt.Sprint(teams[0].ID) {
		t.Fatalf("team filter not selected: %q %v", sel, err)
	}
}
