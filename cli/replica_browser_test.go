package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/server/testenv/browsertest"
)

// browser starts headless Chromium for one test.
func browser(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(browsertest.Start(t), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestBrowserReplicaSetUpInPanel: in Chromium, an admin of a "pforte
// serve" started without replica flags creates the key (shown once, with
// a download), confirms it, enters a file:// target, checks the
// connection (success shown), saves, and the settings page then shows the
// replicator's first sync; the 390 px phone layout does not overflow.
func TestBrowserReplicaSetUpInPanel(t *testing.T) {
	tab := browser(t)
	dir, target := t.TempDir(), t.TempDir()
	c := startChild(t, dir, "browser-replica-secret")
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("serve's output:\n%s", c.stderr.String())
		}
	})
	const password = "korrekt-pferd-batterie-heftklammer"
	runPforteIn(t, password+"\n", "user", "add", "--data-dir", dir, "--email", "admin@example.de", "--role", "admin", "--password-stdin")
	base := "http://" + c.public
	run := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, actions...); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	waitFor := func(js, what string) {
		t.Helper()
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			t.Fatalf("waiting for %s: %v (page: %.600q)", what, err, eval(`document.querySelector('#replica') ? document.querySelector('#replica').innerText : document.body.innerText`))
		}
	}
	run(
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		chromedp.Navigate(base+"/settings"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=replica-keygen-button]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=replica-keygen-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=replica-new-key]`)),
	)
	shown := eval(`document.querySelector('[data-testid=replica-new-key]').innerText`)
	if !strings.Contains(shown, "AGE-SECRET-KEY-1") {
		t.Fatalf("the private key is not shown: %q", shown)
	}
	if href := eval(`document.querySelector('[data-testid=replica-key-download]').getAttribute('href')`); !strings.HasPrefix(href, "data:text/plain;base64,") {
		t.Fatalf("no download of the key: %q", href)
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "replica-key-*.txt"))
	if len(keys) != 1 {
		t.Fatalf("key files: %v", keys)
	}
	if b, _ := os.ReadFile(keys[0]); !strings.Contains(string(b), strings.TrimSpace(shown[strings.Index(shown, "AGE-SECRET-KEY-1"):])) {
		t.Fatal("the key shown is not the one written")
	}

	fill := func() {
		t.Helper()
		run(chromedp.SetValue(chromedp.CSS(`[data-testid=replica-url]`), "file://"+target))
		eval(`(function(){document.querySelector('[data-testid=replica-enabled]').checked = true;
			var k = document.querySelector('[data-testid=replica-key-confirmed]'); if (k) k.checked = true; return ""})()`)
	}
	fill()
	run(chromedp.Click(chromedp.CSS(`[data-testid=replica-probe]`)))
	waitFor(`!!document.querySelector('[data-testid=replica-notice]') && document.querySelector('[data-testid=replica-notice]').innerText.indexOf('Verbindung geprüft') >= 0`, "the probe's success")
	if st, _ := replica.ReadStatus(dir); st != nil {
		t.Fatal("the probe started replication")
	}
	fill()
	run(chromedp.Click(chromedp.CSS(`[data-testid=replica-save]`)))
	waitFor(`document.body.innerText.indexOf('der Replikator läuft mit den neuen Einstellungen') >= 0`, "the saved message")
	// The status section shows the replicator's sync once it reported.
	deadline := time.Now().Add(60 * time.Second)
	for {
		run(chromedp.Navigate(base+"/settings"), chromedp.WaitVisible(chromedp.CSS(`#replica`)))
		if eval(`document.querySelector('[data-testid=replica-last-sync]') ? "yes" : ""`) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sync shown: %.600q", eval(`document.querySelector('#replica').innerText`))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if st, _ := replica.ReadStatus(dir); st == nil || !st.Encrypted || st.LastSync.IsZero() {
		t.Fatalf("replicator status %+v", st)
	}
	if got := eval(`document.querySelector('#replica').innerText`); !strings.Contains(got, "file://"+target) || strings.Contains(got, "AGE-SECRET-KEY") {
		t.Fatalf("status section: %.400q", got)
	}
	// On a phone the section fits the screen.
	run(chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/settings#replica"), chromedp.WaitVisible(chromedp.CSS(`#replica`)))
	if wide := eval(`String(document.documentElement.scrollWidth > window.innerWidth + 1)`); wide != "false" {
		t.Fatal("the settings page overflows a 390 px phone")
	}
}
