package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// panelPost posts a same-origin form and returns the status and Location.
func panelPost(t *testing.T, c *http.Client, base, path string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func panelClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func panelLogin(t *testing.T, base, email, pw string) bool {
	t.Helper()
	status, loc := panelPost(t, panelClient(), base, "/login", url.Values{"email": {email}, "password": {pw}})
	return status == http.StatusSeeOther && loc == "/"
}

// withUser opens a closed data directory and hands the user with email to fn.
func withUser(t *testing.T, dir, email string, fn func(ctx context.Context, st *store.Store, u *store.User)) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	fn(ctx, st, u)
}

// sessionsOf counts a user's sessions in a closed data directory.
func sessionsOf(t *testing.T, dir, email string) (n int) {
	t.Helper()
	withUser(t, dir, email, func(ctx context.Context, st *store.Store, u *store.User) {
		ss, err := st.UserSessions(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		n = len(ss)
	})
	return n
}

// withSession adds a session for email to a closed data directory.
func withSession(t *testing.T, dir, email string) {
	t.Helper()
	withUser(t, dir, email, func(ctx context.Context, st *store.Store, u *store.User) {
		if _, err := st.CreateSession(ctx, "an-old-session-token-from-before", store.Session{UserID: u.ID}, ""); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUserResetPasswordFromStdin(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"user", "add", "--data-dir", dir, "--email", "anna@example.de", "--role", "admin", "--password-stdin"},
		strings.NewReader("der alte lange Passwortsatz\n"), &out, &errOut); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errOut.String())
	}
	withSession(t, dir, "anna@example.de")
	// Refusals say why and change nothing.
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"--email", "niemand@example.de", "--stdin"}, "ein neuer langer Passwortsatz\n", "no user"},
		{[]string{"--email", "anna@example.de", "--stdin"}, "kurz\n", "zu kurz"},
		{[]string{"--email", "anna@example.de", "--stdin", "--link"}, "", "not both"},
	} {
		errOut.Reset()
		if code := run(ctx, append([]string{"user", "reset-password", "--data-dir", dir}, c.args...), strings.NewReader(c.stdin), &out, &errOut); code == 0 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, errOut.String(), c.want)
		}
	}
	if n := sessionsOf(t, dir, "anna@example.de"); n != 1 {
		t.Fatalf("a refused reset touched the sessions: %d", n)
	}
	// Piped in (not a terminal), the first line is the new password.
	errOut.Reset()
	if code := run(ctx, []string{"user", "reset-password", "--data-dir", dir, "--email", "Anna@Example.de"},
		strings.NewReader("ein neuer langer Passwortsatz\n"), &out, &errOut); code != 0 {
		t.Fatalf("reset: exit %d: %s", code, errOut.String())
	}
	if n := sessionsOf(t, dir, "anna@example.de"); n != 0 {
		t.Fatalf("%d sessions left after the reset", n)
	}
	g := testenv.New(t, testenv.Options{Dir: dir})
	if panelLogin(t, g.Public.URL, "anna@example.de", "der alte lange Passwortsatz") {
		t.Fatal("the old password still works")
	}
	if !panelLogin(t, g.Public.URL, "anna@example.de", "ein neuer langer Passwortsatz") {
		t.Fatal("the new password does not work")
	}
	entries, _ := g.Store.AuditLog(ctx, 0, 50)
	found := false
	for _, e := range entries {
		found = found || (e.Action == "user.password_reset" && e.Actor == "cli" && strings.HasPrefix(e.Target, "user:"))
	}
	if !found {
		t.Fatal("reset not audited")
	}
}

func TestUserResetPasswordLinkWorksOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"user", "add", "--data-dir", dir, "--email", "anna@example.de", "--role", "admin", "--password-stdin"},
		strings.NewReader("der alte lange Passwortsatz\n"), &out, &errOut); code != 0 {
		t.Fatalf("add: exit %d: %s", code, errOut.String())
	}
	withSession(t, dir, "anna@example.de")
	// Empty, non-terminal stdin (/dev/null in a container) means the link.
	out.Reset()
	if code := run(ctx, []string{"user", "reset-password", "--data-dir", dir, "--email", "anna@example.de", "--public-url", "https://chat.example.de/"},
		strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("reset: exit %d: %s", code, errOut.String())
	}
	link := strings.TrimSpace(out.String())
	token, ok := strings.CutPrefix(link, "https://chat.example.de/invite/")
	if !ok || len(token) < 32 {
		t.Fatalf("link %q", link)
	}
	if n := sessionsOf(t, dir, "anna@example.de"); n != 0 {
		t.Fatalf("%d sessions left after the reset", n)
	}
	g := testenv.New(t, testenv.Options{Dir: dir})
	if panelLogin(t, g.Public.URL, "anna@example.de", "der alte lange Passwortsatz") {
		t.Fatal("the old password still works after a reset")
	}
	c := panelClient()
	if status, loc := panelPost(t, c, g.Public.URL, "/invite/"+token, url.Values{"password": {"ein neuer langer Passwortsatz"}}); status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("first use of the link: %d %q", status, loc)
	}
	if status, _ := panelPost(t, c, g.Public.URL, "/invite/"+token, url.Values{"password": {"noch ein anderer langer Satz"}}); status != http.StatusNotFound {
		t.Fatalf("second use of the link: %d, want 404", status)
	}
	if !panelLogin(t, g.Public.URL, "anna@example.de", "ein neuer langer Passwortsatz") {
		t.Fatal("the password set through the link does not work")
	}
}

// TestDemoSaysHowToGetInEveryStart: the first start prints the generated
// password; later ones, which cannot, name the reset command.
func TestDemoSaysHowToGetInEveryStart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := &serveConfig{Demo: true, DataDir: dir, HTTPAddr: "127.0.0.1:8080"}
	var starts []string
	for range 2 {
		st, err := store.Open(ctx, dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		if err := demoAdmin(ctx, st, cfg, &errOut); err != nil {
			t.Fatal(err)
		}
		st.Close()
		starts = append(starts, errOut.String())
	}
	if !strings.Contains(starts[0], "demo@pforte.example") || !strings.Contains(starts[0], "password ") {
		t.Fatalf("first start: %q", starts[0])
	}
	if !strings.Contains(starts[1], "demo@pforte.example") || !strings.Contains(starts[1], "pforte user reset-password --data-dir "+dir+" --email demo@pforte.example") {
		t.Fatalf("second start: %q", starts[1])
	}
	// The hint works: the command it names gets the demo admin back in.
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"user", "reset-password", "--data-dir", dir, "--email", "demo@pforte.example", "--stdin"},
		strings.NewReader("ein neuer langer Passwortsatz\n"), &out, &errOut); code != 0 {
		t.Fatalf("reset: exit %d: %s", code, errOut.String())
	}
	g := testenv.New(t, testenv.Options{Dir: dir})
	if !panelLogin(t, g.Public.URL, "demo@pforte.example", "ein neuer langer Passwortsatz") {
		t.Fatal("demo admin cannot log in after the reset")
	}
}
