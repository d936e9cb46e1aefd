package panel_test

import (
	"context"
	"encoding/base32"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/server/testenv/browsertest"
	"github.com/pforte/pforte/store"
)

// chrome starts one headless Chromium for a test.
func chrome(t *testing.T) context.Context { return browsertest.Start(t) }

// person opens a separate browser context (own cookies), like a second
// person on another device.
func person(t *testing.T, root context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitText waits until an element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	expr := fmt.Sprintf(`(function(){var e=document.querySelector(%q);return !!e && e.innerText.indexOf(%q)>=0})()`, sel, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{innerText:"<missing>"}).innerText`, sel)))
		t.Fatalf("waiting for %q in %s: %v (text: %.300q)", want, sel, err, got)
	}
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// repoDir is the module root, where ./artifacts and ./docs live.
func repoDir(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// shot saves a full-page screenshot to ./artifacts/<name>.png.
func shot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(repoDir(t), "artifacts")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return buf
}

// TestBrowserFirstRunTwoFactorAndLogout walks through a new installation:
// setup, two-factor enrolment, logout, login with the second factor.
func TestBrowserFirstRunTwoFactorAndLogout(t *testing.T) {
	root := chrome(t)
	g := testenv.New(t, testenv.Options{})
	ctx := person(t, root)
	base := g.Public.URL

	do(t, ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=setup-form]`)))
	shot(t, ctx, "01-setup")
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Anna Admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "anna@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=setup-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=enrol-2fa]`)),
	)
	if !strings.HasSuffix(location(t, ctx), "/account") {
		t.Fatalf("after setup: %s", location(t, ctx))
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`[data-testid=enrol-2fa]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=totp-qr]`)))
	shot(t, ctx, "02-account-2fa")
	secret := text(t, ctx, `[data-testid=totp-secret]`)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimSpace(secret))
	if err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	now := time.Now()
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=code]`), panel.TOTPCode(key, now.Unix()/panel.TOTPStep)),
		chromedp.Submit(chromedp.CSS(`input[name=code]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=recovery-codes]`)),
	)
	// Logout, then login needs the second factor.
	do(t, ctx, chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
	shot(t, ctx, "03-login")
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "anna@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=totp-form]`)),
	)
	// The enrolment's code is spent; the next step's code is fresh.
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=code]`), panel.TOTPCode(key, now.Unix()/panel.TOTPStep+1)),
		chromedp.Click(chromedp.CSS(`[data-testid=totp-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
	)
	do(t, ctx, chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
	// After logout the inbox is closed to this browser.
	do(t, ctx, chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
}

// TestBrowserLiveInboxAndAssignment has two people in two browser
// contexts: the agent sees a customer message arrive live, the admin
// assigns the conversation, and the agent's "mine" list picks it up.
func TestBrowserLiveInboxAndAssignment(t *testing.T) {
	root := chrome(t)
	g := testenv.New(t, testenv.Options{})
	addNamedUser(t, g.Store, "Anna Berger", "admin@example.de", store.RoleAdmin)
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	seedDemo(t, g, agent)
	base := g.Public.URL

	login := func(ctx context.Context, email string) {
		do(t, ctx,
			chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
			chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		)
	}
	agentTab := person(t, root)
	adminTab := person(t, root)
	login(agentTab, "lea@example.de")
	login(adminTab, "admin@example.de")

	// A new customer writes; the agent's list shows it without reloading.
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4917700011122", "Paula Neumann", "wamid.live.1", time.Now().Unix(), "Hallo, haben Sie noch Termine frei?"))
	waitText(t, agentTab, `[data-testid=convlist]`, "Paula Neumann")
	waitText(t, adminTab, `[data-testid=convlist]`, "Paula Neumann")

	// The agent opens it; the next message appears in the open thread live.
	conv := conversationID(t, g.Store, "4917700011122")
	do(t, agentTab, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-conv="%d"] a`, conv))), chromedp.WaitVisible(chromedp.CSS(`[data-testid=thread]`)))
	waitText(t, agentTab, `[data-testid=thread]`, "noch Termine frei")
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4917700011122", "Paula Neumann", "wamid.live.2", time.Now().Unix(), "Am liebsten Dienstagvormittag."))
	waitText(t, agentTab, `[data-testid=thread]`, "Dienstagvormittag")

	// The admin assigns the conversation to the agent from the other browser.
	do(t, adminTab, chromedp.Navigate(fmt.Sprintf("%s/conversations/%d?assigned=all&status=open", base, conv)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=assign-select]`)))
	do(t, adminTab, chromedp.SetValue(chromedp.CSS(`[data-testid=assign-select]`), fmt.Sprint(agent.ID)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=assign-select]').dispatchEvent(new Event('change', {bubbles: true}))`))
	var cs *store.ConversationSummary
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if cs, err = g.Store.ConversationByID(context.Background(), conv); err != nil {
			t.Fatal(err)
		}
		if cs.AssigneeID == agent.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("conversation not assigned to the agent: assignee %d", cs.AssigneeID)
		}
	}
	// The agent's "mine" list shows it, live.
	do(t, agentTab, chromedp.Navigate(base+"/inbox?assigned=mine&status=open"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)))
	waitText(t, agentTab, `[data-testid=convlist]`, "Paula Neumann")

	// Screenshots of the main pages, desktop and phone.
	first := conversationID(t, g.Store, "4917612345678")
	do(t, adminTab, chromedp.Navigate(fmt.Sprintf("%s/conversations/%d?assigned=all&status=open", base, first)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=thread]`)))
	shot(t, adminTab, "10-inbox-admin")
	for _, p := range []struct{ name, path string }{
		{"11-contacts", "/contacts"}, {"12-templates", "/templates"}, {"13-dashboard", "/dashboard"},
		{"14-settings", "/settings"}, {"15-audit", "/audit"}, {"16-users", "/users"},
		{"17-contact", fmt.Sprintf("/contacts/%d", cs.Contact.ID)},
	} {
		do(t, adminTab, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(`main`)))
		shot(t, adminTab, p.name)
	}
	do(t, adminTab, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)))
	shot(t, adminTab, "20-phone-inbox")
	do(t, adminTab, chromedp.Navigate(fmt.Sprintf("%s/conversations/%d", base, first)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=thread]`)))
	shot(t, adminTab, "21-phone-conversation")
}

// TestBrowserConfirmationsAndErrors: a cancelled confirmation changes
// nothing (also on htmx-boosted forms), an accepted one acts, and a
// refused form shows its error in place.
func TestBrowserConfirmationsAndErrors(t *testing.T) {
	root := chrome(t)
	g := testenv.New(t, testenv.Options{})
	addNamedUser(t, g.Store, "Anna Berger", "admin@example.de", store.RoleAdmin)
	lea := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	tab := person(t, root)
	var answer atomic.Bool
	answer.Store(true)
	dialogs := chromedp.Events(tab, cdppage.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(tab, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: answer.Load()})
		}
	}()
	do(t, tab,
		chromedp.Navigate(g.Public.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		chromedp.Navigate(g.Public.URL+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=users-table]`)),
	)
	disable := chromedp.CSS(fmt.Sprintf(`form[action="/users/%d/disable"] button`, lea.ID))
	answer.Store(false)
	do(t, tab, chromedp.Click(disable), chromedp.Sleep(700*time.Millisecond))
	if u, _ := g.Store.UserByID(context.Background(), lea.ID); u.Disabled {
		t.Fatal("a cancelled confirmation still disabled the account")
	}
	answer.Store(true)
	do(t, tab, chromedp.Click(disable))
	waitText(t, tab, `main`, "gesperrt")
	if u, _ := g.Store.UserByID(context.Background(), lea.ID); !u.Disabled {
		t.Fatal("the accepted confirmation did not disable the account")
	}
	// An invitation for an address that has an account: the error shows.
	do(t, tab,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=invite-form] input[name=name]`), "Doppelt"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=invite-form] input[name=email]`), "lea@example.de"),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-form] button`)),
	)
	waitText(t, tab, `main`, "Diese E-Mail-Adresse hat schon ein Konto.")
}
