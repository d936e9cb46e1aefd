package panel_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// waitSent waits until the simulator (standing in for Meta) accepted a
// message of the given type and returns its request body.
func waitSent(t *testing.T, sim *simulator.Simulator, typ string, n int) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var seen []string
		for _, r := range sim.Accepted() {
			if r.Type == typ {
				seen = append(seen, string(r.Body))
			}
		}
		if len(seen) >= n {
			return seen[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulator got %d %s messages, want %d", len(seen), typ, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserComposerThroughTheSimulator answers a customer from the
// browser through the real outbox and the Cloud API simulator: a reply
// with its ticks, a quoted reply, an attachment, and — once the window is
// closed — a template with its parameters.
func TestBrowserComposerThroughTheSimulator(t *testing.T) {
	root := chrome(t)
	sg := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{EnforceWindow: true, StatusDelay: 100 * time.Millisecond}})
	g := sg.Gateway
	ctx := context.Background()
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	seedDemo(t, g, agent)
	_, bodies := testenv.Examples(t, "webhooks")
	deliver(t, g, bodies["template_status_update_approved"])
	if err := g.Store.SaveTemplateText(ctx, "order_shipped_v2", "en_US", "Hallo {{1}}, Ihre Bestellung {{2}} kommt {{3}}."); err != nil {
		t.Fatal(err)
	}
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
	// 1. A reply; its ticks move to read as the simulator's receipts come in.
	do(t, tab,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-text]`), "Guten Tag Frau Meier, wir kümmern uns sofort darum."),
		chromedp.Click(chromedp.CSS(`[data-testid=send-btn]`)),
	)
	waitText(t, tab, `[data-testid=thread]`, "wir kümmern uns sofort darum")
	waitText(t, tab, `.msg.out .author`, "Lea Schmidt")
	body := waitSent(t, sg.Sim, "text", 1)
	if !strings.Contains(body, `"to":"+4917699887766"`) || !strings.Contains(body, "wir kümmern uns") {
		t.Fatalf("sent body %s", body)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`!!document.querySelector('.msg.out [data-status=read]')`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("read ticks did not appear: %v", err)
	}
	// 2. A reply quoting the customer's message.
	do(t, tab,
		chromedp.Click(chromedp.CSS(`.msg.in .reply-btn`)),
		chromedp.WaitVisible(chromedp.CSS(`.reply-chip`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-text]`), "Zu Ihrer Frage:"),
		chromedp.Click(chromedp.CSS(`[data-testid=send-btn]`)),
	)
	body = waitSent(t, sg.Sim, "text", 2)
	if !strings.Contains(body, `"context":{"message_id":"wamid.`) {
		t.Fatalf("quoted reply without context: %s", body)
	}
	waitText(t, tab, `[data-testid=thread]`, "Zu Ihrer Frage:")
	if n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('.msg.out .quote').length`)); n != 1 {
		t.Fatalf("the quoted reply shows %d quotes, want 1", n)
	}
	// 3. An attachment with a caption.
	pdf := filepath.Join(t.TempDir(), "Angebot-4711.pdf")
	os.WriteFile(pdf, []byte("%PDF-1.4\n% Angebot 4711\n"), 0o644)
	do(t, tab,
		chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=composer-file]`), []string{pdf}),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-text]`), "Ihr Angebot"),
		chromedp.Click(chromedp.CSS(`[data-testid=send-btn]`)),
	)
	body = waitSent(t, sg.Sim, "document", 1)
	if !strings.Contains(body, `"filename":"Angebot-4711.pdf"`) || !strings.Contains(body, `"caption":"Ihr Angebot"`) {
		t.Fatalf("document body %s", body)
	}
	waitText(t, tab, `[data-testid=thread]`, "Angebot-4711.pdf")
	shot(t, tab, "30-composer-sent")

	// 4. A customer whose window closed yesterday: only a template.
	old := time.Now().Add(-30 * time.Hour).Unix()
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915255566677", "Jonas Alt", "wamid.old.1", old, "Ist die Ware schon da?"))
	oldConv := conversationID(t, g.Store, "4915255566677")
	do(t, tab, chromedp.Navigate(fmt.Sprintf("%s/conversations/%d?assigned=all&status=open", g.Public.URL, oldConv)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=window-closed]`)))
	if n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=composer-text]').length`)); n != 0 {
		t.Fatal("free text offered outside the window")
	}
	do(t, tab,
		chromedp.SetValue(chromedp.CSS(`[data-testid=template-select]`), "order_shipped_v2|en_US"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=template-select]').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.WaitVisible(chromedp.CSS(`input[name=p_1]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=p_1]`), "Jonas"),
		chromedp.SendKeys(chromedp.CSS(`input[name=p_2]`), "4711"),
		chromedp.SendKeys(chromedp.CSS(`input[name=p_3]`), "morgen"),
	)
	waitText(t, tab, `[data-preview]`, "Hallo Jonas, Ihre Bestellung 4711 kommt morgen.")
	shot(t, tab, "31-template-picker")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=template-send]`)))
	body = waitSent(t, sg.Sim, "template", 1)
	if !strings.Contains(body, `"name":"order_shipped_v2"`) || !strings.Contains(body, `"text":"4711"`) || !strings.Contains(body, `"to":"+4915255566677"`) {
		t.Fatalf("template body %s", body)
	}
	waitText(t, tab, `[data-testid=thread]`, "Hallo Jonas, Ihre Bestellung 4711 kommt morgen.")

	// The inbox with a live conversation (docs/inbox.png comes from TestScreenshots).
	do(t, tab, chromedp.Navigate(fmt.Sprintf("%s/conversations/%d?assigned=all&status=open", g.Public.URL, conv)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=thread]`)))
	shot(t, tab, "10-inbox")
}
