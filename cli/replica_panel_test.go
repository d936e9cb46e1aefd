package cli

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/replica"
)

// TestReplicaConfiguredInPanel: "pforte serve" starts without any replica
// flag or S3 keys in its environment; an admin creates the key, confirms
// it and saves an S3 target with its keys on the settings page. The
// replicator starts without a restart (the keys reach it through its
// environment), a webhook message then restores from the replica, the
// record of processing names the replica, and switching it off stops the
// replicator after it shipped the rest.
func TestReplicaConfiguredInPanel(t *testing.T) {
	s3 := startS3(t, "pforte")
	// serve gets no keys from its environment: only the panel's.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	dir := t.TempDir()
	const secret = "panel-replica-secret"
	c := startChild(t, dir, secret)
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("serve's output:\n%s", c.stderr.String())
		}
	})
	if st, _ := replica.ReadStatus(dir); st != nil {
		t.Fatal("a replicator ran before it was set up")
	}
	const password = "korrekt-pferd-batterie-heftklammer"
	runPforteIn(t, password+"\n", "user", "add", "--data-dir", dir, "--email", "admin@example.de", "--role", "admin", "--password-stdin")

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 90 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, "http://"+c.public+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.Header.Set("Origin", "http://"+c.public)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := do("POST", "/login", url.Values{"email": {"admin@example.de"}, "password": {password}}); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	if st, body := do("POST", "/settings/replica/key", url.Values{}); st != 200 || !strings.Contains(body, "AGE-SECRET-KEY-1") {
		t.Fatalf("key: %d", st)
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "replica-key-*.txt"))
	if len(keys) != 1 {
		t.Fatalf("key files: %v", keys)
	}
	target := "s3://pforte/panel?endpoint=" + s3.url + "&region=eu-central-1"
	form := url.Values{"enabled": {"1"}, "url": {target}, "access_key_id": {"test-access"}, "secret_key": {"test-secret"},
		"retention_hours": {"72"}, "encryption": {"key"}, "key_confirmed": {"1"}, "action": {"probe"}}
	if st, body := do("POST", "/settings/replica", form); st != 200 || !strings.Contains(body, "Verbindung geprüft") {
		t.Fatalf("probe: %d", st)
	}
	form.Set("action", "save")
	if st, body := do("POST", "/settings/replica", form); st != http.StatusSeeOther {
		t.Fatalf("save: %d %s", st, body)
	}
	first := waitReplica(t, dir, "first sync of the replica set in the panel", func(s *replica.Status) bool {
		return !s.LastSync.IsZero() && s.RemoteTXID > 0 && s.Encrypted && !s.Stopped
	})

	// A message after the start reaches the replica.
	postWebhook(t, c, secret, canaryBody("4917099990007", "wamid.panel.1", "über das Panel repliziert"))
	waitReplica(t, dir, "the message shipped", func(s *replica.Status) bool { return s.RemoteTXID > first.RemoteTXID && s.LagSeconds == 0 })

	if st, body := do("GET", "/privacy", nil); st != 200 || !strings.Contains(body, "s3://pforte/panel") {
		t.Fatalf("the record of processing does not name the replica: %d", st)
	}
	if _, body := do("GET", "/settings", nil); !strings.Contains(body, `data-testid="replica-last-sync"`) {
		t.Fatal("the settings page shows no sync")
	}
	if out := runPforte(t, "records", "--data-dir", dir); !strings.Contains(out, "s3://pforte/panel") || !strings.Contains(out, "age-encrypted") {
		t.Fatalf("pforte records does not name the panel's replica:\n%s", out)
	}
	// The doctor reads the panel's replica (no flag names it).
	if out, _ := runPforteErr("doctor", "--data-dir", dir, "--timeout", "1s", "--graph-url", "http://127.0.0.1:1"); !strings.Contains(out, "off-site replica s3://pforte/panel") || !strings.Contains(out, "is current") {
		t.Fatalf("doctor does not see the panel's replica:\n%s", out)
	}

	// Off: the replicator ships the rest and stops; serve goes on.
	form = url.Values{"enabled": {"0"}, "url": {target}, "access_key_id": {"test-access"}, "retention_hours": {"72"}, "encryption": {"key"}, "action": {"save"}}
	if st, body := do("POST", "/settings/replica", form); st != http.StatusSeeOther {
		t.Fatalf("switch off: %d %s", st, body)
	}
	waitReplica(t, dir, "replicator stopped", func(s *replica.Status) bool { return s.Stopped })
	if _, body := do("GET", "/privacy", nil); strings.Contains(body, "s3://pforte/panel") {
		t.Fatal("the record of processing still names the switched-off replica")
	}
	postWebhook(t, c, secret, canaryBody("4917099990008", "wamid.panel.2", "nach dem Abschalten"))

	// Its log never held the secret.
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()
	if strings.Contains(c.stderr.String(), "test-secret") {
		t.Fatal("the S3 secret is in serve's log")
	}
	if strings.Contains(c.stderr.String(), "DATA RACE") {
		t.Fatal("serve (built with -race) reported a data race")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	st, _, _ := restoreReplica(t, target, keys[0])
	defer st.Close()
	if _, err := st.MessageByWAMID(t.Context(), "wamid.panel.1"); err != nil {
		t.Fatalf("the message sent while replicating is not in the restore: %v", err)
	}
	if _, err := st.MessageByWAMID(t.Context(), "wamid.panel.2"); err == nil {
		t.Fatal("a message from after switching off is in the replica")
	}
}

// runPforteIn runs one pforte command with stdin.
func runPforteIn(t *testing.T, stdin string, args ...string) {
	t.Helper()
	if code := run(t.Context(), args, strings.NewReader(stdin), io.Discard, os.Stderr); code != 0 {
		t.Fatalf("pforte %s: exit %d", strings.Join(args, " "), code)
	}
}
