package panel_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// waitInteractive waits until the simulator holds the customer's n-th
// interactive message and returns it as their phone shows it.
func waitInteractive(t *testing.T, sim *simulator.Simulator, c simulator.Customer, body string) *simulator.Interactive {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, r := range sim.Accepted() {
			if r.Type == "interactive" && strings.Contains(string(r.Body), body) {
				if it, ok := sim.LastInteractive(c); ok && it.WAMID == r.WAMID {
					return it
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no interactive message %q reached the simulator", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserReplyButtonsAndListAnswered: an agent sends reply buttons and
// a list from the composer (with its preview); the simulated customer taps
// a button and a row, and each tap is shown in the thread as the answer to
// the message it belongs to.
func TestBrowserReplyButtonsAndListAnswered(t *testing.T) {
	root := chrome(t)
	sg := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{EnforceWindow: true, StatusDelay: 100 * time.Millisecond}})
	g := sg.Gateway
	ctx := context.Background()
	addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	erika := simulator.Customer{WaID: "4917699887766", Name: "Erika Meier"}
	if _, st, err := sg.Sim.Write(ctx, erika, "text"); err != nil || st != 200 {
		t.Fatalf("customer writes: %d %v", st, err)
	}
	conv := conversationID(t, g.Store, erika.WaID)
	tab := person(t, root)
	do(t, tab,
		chromedp.Navigate(g.Public.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "lea@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		chromedp.Navigate(fmt.Sprintf("%s/conversations/%d?assigned=all&status=open", g.Public.URL, conv)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=composer-text]`)),
	)

	// 1. Reply buttons, with the preview showing them as typed.
	do(t, tab,
		chromedp.Click(chromedp.CSS(`[data-testid=interactive-picker] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=ia-body]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=ia-body]`), "Wann dürfen wir liefern?"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=ia-b1]`), "Vormittags"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=ia-b2]`), "Nachmittags"),
	)
	waitText(t, tab, `[data-ia-preview]`, "Nachmittags")
	shot(t, tab, "40-reply-buttons-preview")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=ia-send]`)))
	buttons := waitInteractive(t, sg.Sim, erika, "Wann dürfen wir liefern?")
	if buttons.Kind != "button" || len(buttons.Choices) != 2 || buttons.Choices[1].Title != "Nachmittags" {
		t.Fatalf("buttons as the customer sees them: %+v", buttons)
	}
	waitText(t, tab, `[data-testid=thread] [data-testid=interactive]`, "Vormittags")
	if _, st, err := sg.Sim.Tap(ctx, erika, buttons, buttons.Choices[1]); err != nil || st != 200 {
		t.Fatalf("tap: %d %v", st, err)
	}
	// The tap is shown as the answer to the buttons' message.
	waitText(t, tab, `.msg.in .choice`, "Nachmittags")
	waitText(t, tab, `.msg.in .quote`, "Wann dürfen wir liefern?")

	// 2. A list with two sections.
	do(t, tab,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=composer-text]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=interactive-picker]').open = true`),
		chromedp.SetValue(chromedp.CSS(`[data-testid=ia-kind]`), "list"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=ia-kind]').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=ia-list-rows]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=ia-body]`), "Welche Filiale passt Ihnen?"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=ia-list-button]`), "Filiale wählen"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=ia-list-rows]`), "## Berlin\nMitte | Torstraße 1\nKreuzberg\n## Potsdam\nInnenstadt | Brandenburger Str. 5"),
	)
	waitText(t, tab, `[data-ia-preview]`, "Filiale wählen")
	shot(t, tab, "41-list-preview")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=ia-send]`)))
	list := waitInteractive(t, sg.Sim, erika, "Welche Filiale passt Ihnen?")
	if list.Kind != "list" || len(list.Choices) != 3 || list.Choices[2].Title != "Innenstadt" {
		t.Fatalf("list as the customer sees it: %+v", list)
	}
	if _, st, err := sg.Sim.Tap(ctx, erika, list, list.Choices[0]); err != nil || st != 200 {
		t.Fatalf("tap: %d %v", st, err)
	}
	waitText(t, tab, `.msg.in:last-of-type .choice`, "Mitte")
	waitText(t, tab, `.msg.in:last-of-type .quote`, "Welche Filiale passt Ihnen?")
	shot(t, tab, "42-list-answered")
}
