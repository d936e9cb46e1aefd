package panel_test

import (
	"context"
	"encoding/base32"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// sessionFor logs a user in without the password (no argon2 per request):
// a session row and its cookie, as a login would make.
func sessionFor(t testing.TB, g *testenv.Gateway, u *store.User) *browser {
	t.Helper()
	b := newBrowser(t, g.Public.URL)
	token := fmt.Sprintf("test-session-%d-%d-%s", u.ID, time.Now().UnixNano(), strings.Repeat("x", 8))
	if _, err := g.Store.CreateSession(context.Background(), token, store.Session{UserID: u.ID}, ""); err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(g.Public.URL)
	b.client.Jar.SetCookies(pu, []*http.Cookie{{Name: "pforte", Value: token, Path: "/"}})
	return b
}

func TestPanelFirstRunCreatesExactlyOneAdmin(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	b := newBrowser(t, g.Public.URL)
	if p := b.get("/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/setup" {
		t.Fatalf("empty database: / = %d → %q, want /setup", p.status, p.header.Get("Location"))
	}
	// Bad input changes nothing.
	if p := b.post("/setup", url.Values{"name": {"Anna"}, "email": {"anna@example.de"}, "password": {"kurz"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "zu kurz") {
		t.Fatalf("short password: %d", p.status)
	}
	if n, _ := g.Store.CountUsers(context.Background()); n != 0 {
		t.Fatalf("a refused setup created %d users", n)
	}
	p := b.post("/setup", url.Values{"name": {"Anna Admin"}, "email": {"Anna@Example.de"}, "password": {testPassword}})
	if p.status != http.StatusSeeOther || b.cookie("pforte") == "" {
		t.Fatalf("setup: %d, cookie %q", p.status, b.cookie("pforte"))
	}
	if p := b.get("/inbox"); p.status != http.StatusOK || !strings.Contains(p.body, "Anna Admin") {
		t.Fatalf("after setup the admin is logged in: %d", p.status)
	}
	// A second setup (another browser, or a replayed form) must not make a second admin.
	other := newBrowser(t, g.Public.URL)
	if p := other.post("/setup", url.Values{"name": {"Mallory"}, "email": {"m@evil.example"}, "password": {testPassword}}); p.status != http.StatusNotFound {
		t.Fatalf("second setup: %d %q, want 404", p.status, p.header.Get("Location"))
	}
	if p := other.get("/setup"); p.status != http.StatusNotFound {
		t.Fatalf("setup page after first run must not exist, got %d %q", p.status, p.header.Get("Location"))
	}
	if n, _ := g.Store.CountUsers(context.Background()); n != 1 {
		t.Fatalf("users = %d, want 1", n)
	}
	u, err := g.Store.UserByEmail(context.Background(), "anna@example.de")
	if err != nil || u.Role != store.RoleAdmin {
		t.Fatalf("admin: %v %v", u, err)
	}
}

// route is one panel endpoint with the roles allowed on it.
type route struct {
	method, path string
	allow        string // letters: A admin, G agent, U auditor
	form         url.Values
}

func panelRoutes(convID, labelID, otherUserID, cannedID, keyID int64) []route {
	c := func(s string) string { return fmt.Sprintf(s, convID) }
	return []route{
		{"GET", "/account", "AGU", nil},
		{"POST", "/account/preferences", "AGU", url.Values{"lang": {"de"}}},
		{"GET", "/account/2fa", "AGU", nil},
		{"POST", "/account/2fa/disable", "AGU", nil},
		{"GET", "/inbox", "AG", nil},
		{"GET", "/inbox/list?assigned=all&status=all", "AG", nil},
		{"GET", "/search?q=hallo", "AG", nil},
		{"GET", c("/conversations/%d"), "AG", nil},
		{"GET", c("/conversations/%d/thread"), "AG", nil},
		{"POST", c("/conversations/%d/assign"), "AG", url.Values{"user": {"0"}}},
		{"POST", c("/conversations/%d/status"), "AG", url.Values{"status": {"open"}}},
		{"POST", c("/conversations/%d/notes"), "AG", url.Values{"body": {"Rückruf am Montag"}}},
		{"POST", c("/conversations/%d/labels"), "AG", url.Values{"label": {fmt.Sprint(labelID)}, "on": {"1"}}},
		{"POST", c("/conversations/%d/send"), "AG", url.Values{"text": {"Hallo"}}},
		{"POST", c("/conversations/%d/template"), "AG", url.Values{"template": {"x|de"}}},
		{"POST", c("/conversations/%d/secure-links"), "AG", url.Values{"prompt": {"Bitte Ausweis hochladen"}, "send": {"0"}}},
		{"GET", "/contacts", "AGU", nil},
		{"GET", "/contacts/1", "AGU", nil},
		{"POST", "/contacts/1/consent", "AG", url.Values{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {"Bogen 4"}}},
		{"GET", "/privacy", "A", nil},
		{"POST", "/privacy/stop-words", "A", url.Values{"words": {"STOP\nABMELDEN"}}},
		{"POST", "/contacts/999999/export", "A", nil},
		{"POST", "/contacts/999999/erase", "A", url.Values{"reason": {"Anfrage"}}},
		{"GET", "/templates", "AG", nil},
		{"POST", "/templates/text", "A", url.Values{"name": {"hallo"}, "language": {"de"}, "body": {"Hallo {{1}}"}}},
		{"GET", "/dashboard", "A", nil},
		{"GET", "/settings", "A", nil},
		{"POST", "/settings/meta", "A", url.Values{}},
		{"POST", "/settings/numbers", "A", url.Values{"phone_number_id": {"111"}}},
		{"POST", "/settings/security", "A", url.Values{}},
		{"POST", "/settings/apikeys", "A", url.Values{"name": {"shop"}, "scope": {"read"}}},
		{"POST", fmt.Sprintf("/settings/apikeys/%d/revoke", keyID), "A", nil},
		{"POST", "/settings/canned", "A", url.Values{"title": {"Gruß"}, "body": {"Hallo {{name}}"}}},
		{"POST", fmt.Sprintf("/settings/canned/%d/delete", cannedID), "A", nil},
		{"POST", "/settings/labels", "A", url.Values{"name": {"neu"}, "color": {"red"}}},
		{"POST", "/settings/labels/999/delete", "A", nil},
		{"POST", "/settings/subscriptions/999/replay", "A", url.Values{"what": {"dead"}}},
		{"GET", "/users", "A", nil},
		{"POST", "/users", "A", url.Values{"name": {"Neu"}, "email": {"neu@example.de"}, "role": {"agent"}}},
		{"POST", fmt.Sprintf("/users/%d/role", otherUserID), "A", url.Values{"role": {"agent"}}},
		{"POST", fmt.Sprintf("/users/%d/disable", otherUserID), "A", nil},
		{"POST", fmt.Sprintf("/users/%d/enable", otherUserID), "A", nil},
		{"POST", fmt.Sprintf("/users/%d/reset-2fa", otherUserID), "A", nil},
		{"POST", fmt.Sprintf("/users/%d/logout", otherUserID), "A", nil},
		{"POST", fmt.Sprintf("/users/%d/invite", otherUserID), "A", nil},
		{"GET", "/audit", "AU", nil},
		{"GET", "/health", "A", nil},
		{"POST", "/health/smtp", "A", url.Values{"host": {"mail.example.de"}, "port": {"587"}, "security": {"starttls"}, "from": {"pforte@example.de"}, "to": {"ops@example.de"}}},
		{"GET", "/costs", "A", nil},
		{"POST", "/costs/export", "A", url.Values{"from": {"2026-01"}, "to": {"2026-02"}}},
		{"POST", "/costs/rates", "A", url.Values{"rates": {"49,marketing,EUR,0.1131,2025-07-01"}}},
		{"POST", "/logout-all", "AGU", nil},
	}
}

// panelFixture is a gateway with one user per role and some data.
type panelFixture struct {
	g                     *testenv.Gateway
	admin, agent, auditor *store.User
	other                 *store.User
	convID, labelID       int64
	cannedID, keyID       int64
}

func newPanelFixture(t *testing.T) *panelFixture {
	t.Helper()
	g := testenv.New(t, testenv.Options{})
	f := &panelFixture{g: g}
	f.admin = addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	f.agent = addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	f.auditor = addUser(t, g.Store, "pruefer@example.de", store.RoleAuditor)
	f.other = addUser(t, g.Store, "kollege@example.de", store.RoleAgent)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4917612345678", "Erika Mustermann", "wamid.fixture1", time.Now().Unix()-60, "Hallo, ist meine Bestellung unterwegs?"))
	f.convID = conversationID(t, g.Store, "4917612345678")
	l, err := g.Store.CreateLabel(context.Background(), "Reklamation", "red")
	if err != nil {
		t.Fatal(err)
	}
	f.labelID = l.ID
	if err := g.Store.SaveCannedReply(context.Background(), store.CannedReply{Title: "Gruß", Body: "Guten Tag {{name}}"}); err != nil {
		t.Fatal(err)
	}
	cr, _ := g.Store.CannedReplies(context.Background())
	f.cannedID = cr[0].ID
	keys, _ := g.Store.APIKeys(context.Background())
	f.keyID = keys[0].ID
	return f
}

// TestPanelAuthorizationMatrix checks every panel route for every role:
// anonymous visitors are sent to the login, refused roles get 403 (and an
// audit line), allowed roles get through.
func TestPanelAuthorizationMatrix(t *testing.T) {
	f := newPanelFixture(t)
	users := map[string]*store.User{"A": f.admin, "G": f.agent, "U": f.auditor}
	for _, rt := range panelRoutes(f.convID, f.labelID, f.other.ID, f.cannedID, f.keyID) {
		anon := newBrowser(t, f.g.Public.URL)
		p := anon.do(rt.method, rt.path, rt.form, nil)
		if rt.method == "GET" && (p.status != http.StatusSeeOther || p.header.Get("Location") != "/login") {
			t.Errorf("anonymous %s %s: %d → %q, want 303 → /login", rt.method, rt.path, p.status, p.header.Get("Location"))
		}
		if rt.method == "POST" && p.status != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s: %d, want 401", rt.method, rt.path, p.status)
		}
		for _, letter := range []string{"A", "G", "U"} {
			b := sessionFor(t, f.g, users[letter])
			p := b.do(rt.method, rt.path, rt.form, nil)
			allowed := strings.Contains(rt.allow, letter)
			switch {
			case allowed && (p.status == http.StatusForbidden || p.status == http.StatusUnauthorized):
				t.Errorf("%s %s as %s: %d, want allowed", rt.method, rt.path, users[letter].Role, p.status)
			case !allowed && p.status != http.StatusForbidden:
				t.Errorf("%s %s as %s: %d, want 403", rt.method, rt.path, users[letter].Role, p.status)
			}
		}
	}
	// Refusals are audited.
	entries, err := f.g.Store.AuditLog(context.Background(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range entries {
		if e.Action == "authz.denied" {
			denied++
		}
	}
	if denied == 0 {
		t.Error("no authz.denied audit entries")
	}
}

// TestPanelObjectAccess checks ids that do not exist or do not belong
// together: no data leaks across conversations.
func TestPanelObjectAccess(t *testing.T) {
	f := newPanelFixture(t)
	b := sessionFor(t, f.g, f.agent)
	for _, path := range []string{"/conversations/999999", "/conversations/999999/thread", "/contacts/999999",
		fmt.Sprintf("/conversations/%d/media/1", f.convID), "/conversations/abc"} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, p.status)
		}
	}
	if p := b.post("/conversations/999999/notes", url.Values{"body": {"x"}}); p.status != http.StatusNotFound {
		t.Errorf("note on a missing conversation: %d", p.status)
	}
	// Assigning to an auditor (who cannot use the inbox) is refused.
	if p := b.post(fmt.Sprintf("/conversations/%d/assign", f.convID), url.Values{"user": {fmt.Sprint(f.auditor.ID)}}); p.status != http.StatusNotFound {
		t.Errorf("assign to auditor: %d, want 404", p.status)
	}
}

// TestPanelCSRF sends every state-changing route cross-site with a valid
// session: each is refused and nothing changes.
func TestPanelCSRF(t *testing.T) {
	f := newPanelFixture(t)
	b := sessionFor(t, f.g, f.admin)
	before, _ := f.g.Store.Labels(context.Background())
	for _, rt := range panelRoutes(f.convID, f.labelID, f.other.ID, f.cannedID, f.keyID) {
		if rt.method != "POST" {
			continue
		}
		for name, hdr := range map[string]map[string]string{
			"fetch-metadata": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			"origin-only":    {"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
			"same-site":      {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example"},
		} {
			if p := b.do("POST", rt.path, rt.form, hdr); p.status != http.StatusForbidden {
				t.Errorf("%s %s (%s): %d, want 403", rt.method, rt.path, name, p.status)
			}
		}
	}
	for _, path := range []string{"/login", "/setup", "/logout", "/login/2fa"} {
		if p := b.do("POST", path, url.Values{"email": {"admin@example.de"}, "password": {testPassword}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); p.status != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403 (login CSRF)", path, p.status)
		}
	}
	after, _ := f.g.Store.Labels(context.Background())
	if len(after) != len(before) {
		t.Errorf("labels changed by refused requests: %d → %d", len(before), len(after))
	}
	if n, _ := f.g.Store.CountUsers(context.Background()); n != 4 {
		t.Errorf("users changed by refused requests: %d", n)
	}
	// The session still works: the refusals did not log anybody out.
	if p := b.get("/settings"); p.status != http.StatusOK {
		t.Errorf("session after CSRF attempts: %d", p.status)
	}
	// Meta's webhook POSTs carry neither header and still pass.
	deliver(t, f.g, textWebhook("106540352242922", "4930123456", "4917600000001", "Max", "wamid.csrf-pass", time.Now().Unix(), "hi"))
}

func TestPanelSessionFixation(t *testing.T) {
	f := newPanelFixture(t)
	ctx := context.Background()
	// The attacker plants a session token they know into the victim's browser.
	planted := "planted-token-0123456789abcdef"
	if _, err := f.g.Store.CreateSession(ctx, planted, store.Session{UserID: f.other.ID}, ""); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, f.g.Public.URL)
	pu, _ := url.Parse(f.g.Public.URL)
	b.client.Jar.SetCookies(pu, []*http.Cookie{{Name: "pforte", Value: planted, Path: "/"}})
	b.login("agent@example.de")
	got := b.cookie("pforte")
	if got == "" || got == planted {
		t.Fatalf("session token after login = %q; must be new", got)
	}
	if _, _, err := f.g.Store.SessionByToken(ctx, planted); err == nil {
		t.Fatal("the planted session survived the login")
	}
	// The new token is for the agent, the planted identity is gone.
	if p := b.get("/account"); p.status != http.StatusOK || !strings.Contains(p.body, "agent@example.de") {
		t.Fatalf("account after login: %d", p.status)
	}
	// Logout kills the token server-side; replaying it fails.
	token := b.cookie("pforte")
	if p := b.post("/logout", nil); p.status != http.StatusSeeOther || p.header.Get("Clear-Site-Data") == "" {
		t.Fatalf("logout: %d %v", p.status, p.header)
	}
	replay := newBrowser(t, f.g.Public.URL)
	replay.client.Jar.SetCookies(pu, []*http.Cookie{{Name: "pforte", Value: token, Path: "/"}})
	if p := replay.get("/inbox"); p.status != http.StatusSeeOther {
		t.Fatalf("replayed token after logout: %d", p.status)
	}
}

func TestPanelSessionCookieAndTimeouts(t *testing.T) {
	g := testenv.New(t, testenv.Options{Panel: panel.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 8 * time.Hour}})
	addUser(t, g.Store, "a@example.de", store.RoleAdmin)
	b := newBrowser(t, g.Public.URL)
	p := b.post("/login", url.Values{"email": {"a@example.de"}, "password": {testPassword}})
	sc := p.header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	// Age the session past the idle timeout: the next request is anonymous.
	ctx := context.Background()
	if err := g.Store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec("UPDATE sessions SET last_seen_at = last_seen_at - 7200")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/inbox"); p.status != http.StatusSeeOther {
		t.Fatalf("idle session still valid: %d", p.status)
	}
	// Absolute timeout, even when active.
	b.login("a@example.de")
	if err := g.Store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec("UPDATE sessions SET created_at = created_at - 9*3600")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/inbox"); p.status != http.StatusSeeOther {
		t.Fatalf("session past its absolute timeout still valid: %d", p.status)
	}
}

func TestPanelLoginThrottle(t *testing.T) {
	f := newPanelFixture(t)
	b := newBrowser(t, f.g.Public.URL)
	for i := range 5 {
		p := b.post("/login", url.Values{"email": {"agent@example.de"}, "password": {fmt.Sprintf("falsch-falsch-%d", i)}})
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "E-Mail-Adresse oder Passwort ist falsch") {
			t.Fatalf("attempt %d: %d", i, p.status)
		}
	}
	// Locked: even the right password is refused now.
	if p := b.post("/login", url.Values{"email": {"agent@example.de"}, "password": {testPassword}}); p.status != http.StatusTooManyRequests {
		t.Fatalf("locked account: %d, want 429", p.status)
	}
	// Other accounts are not affected by one account's lock.
	b.login("admin@example.de")
	// An unknown address answers exactly like a wrong password.
	anon := newBrowser(t, f.g.Public.URL)
	p1 := anon.post("/login", url.Values{"email": {"niemand@example.de"}, "password": {"irgendwas-langes"}})
	p2 := anon.post("/login", url.Values{"email": {"admin@example.de"}, "password": {"irgendwas-langes"}})
	if p1.status != p2.status || !strings.Contains(p1.body, "E-Mail-Adresse oder Passwort ist falsch") {
		t.Fatalf("unknown vs known address differ: %d vs %d", p1.status, p2.status)
	}
	entries, _ := f.g.Store.AuditLog(context.Background(), 0, 100)
	count := map[store.AuditAction]int{}
	for _, e := range entries {
		count[e.Action]++
		if strings.Contains(e.Detail, testPassword) || strings.Contains(e.Detail, "falsch-falsch") {
			t.Fatalf("password in audit log: %+v", e)
		}
	}
	if count["login.failed"] < 7 || count["login.throttled"] != 1 || count["login.success"] != 1 {
		t.Fatalf("audit counts: %v", count)
	}
}

func TestPanelLoginThrottlePerAddress(t *testing.T) {
	f := newPanelFixture(t)
	b := newBrowser(t, f.g.Public.URL)
	// Spraying one password over many addresses trips the per-address limit.
	for i := range 30 {
		b.post("/login", url.Values{"email": {fmt.Sprintf("user%d@example.de", i)}, "password": {"Sommer2026!Sommer"}})
	}
	if p := b.post("/login", url.Values{"email": {"admin@example.de"}, "password": {testPassword}}); p.status != http.StatusTooManyRequests {
		t.Fatalf("after 30 failures from one address: %d, want 429", p.status)
	}
}

func totpNow(t *testing.T, secret string, now time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return panel.TOTPCode(key, now.Unix()/panel.TOTPStep)
}

var secretRe = regexp.MustCompile(`data-testid="totp-secret">([A-Z2-7]+)<`)
var codeRe = regexp.MustCompile(`<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>`)

func TestPanelTwoFactor(t *testing.T) {
	f := newPanelFixture(t)
	b := newBrowser(t, f.g.Public.URL)
	b.login("agent@example.de")
	p := b.get("/account/2fa")
	m := secretRe.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `data-testid="totp-qr"`) {
		t.Fatalf("enrolment page lacks secret or QR: %d", p.status)
	}
	secret := m[1]
	if p := b.post("/account/2fa", url.Values{"code": {"000000"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong enrolment code: %d", p.status)
	}
	// The replay below must use this very code: a 30 s step may end in
	// between, and a code of the next step is a fresh one.
	enrolledAt := time.Now()
	p = b.post("/account/2fa", url.Values{"code": {totpNow(t, secret, enrolledAt)}})
	codes := codeRe.FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("enrolment: %d, %d recovery codes", p.status, len(codes))
	}
	u, _ := f.g.Store.UserByEmail(context.Background(), "agent@example.de")
	if !u.TOTPEnabled || strings.Contains(string(u.TOTPSecret), secret) {
		t.Fatal("TOTP not enabled, or the secret is stored in the clear")
	}
	b.post("/logout", nil)

	// Password alone is not enough now.
	b.login("agent@example.de")
	if p := b.get("/inbox"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login/2fa" {
		t.Fatalf("inbox before the second factor: %d %q", p.status, p.header.Get("Location"))
	}
	pre := b.cookie("pforte")
	// The code used at enrolment cannot be replayed (RFC 6238 §5.2).
	if p := b.post("/login/2fa", url.Values{"code": {totpNow(t, secret, enrolledAt)}}); p.status != http.StatusUnauthorized {
		t.Fatalf("replayed enrolment code accepted: %d", p.status)
	}
	// A recovery code works once; the session token rotates.
	if p := b.post("/login/2fa", url.Values{"code": {codes[0][1]}}); p.status != http.StatusSeeOther {
		t.Fatalf("recovery code: %d", p.status)
	}
	if b.cookie("pforte") == pre {
		t.Fatal("token not rotated after the second factor")
	}
	if p := b.get("/inbox"); p.status != http.StatusOK {
		t.Fatalf("inbox after 2FA: %d", p.status)
	}
	b.post("/logout", nil)
	b.login("agent@example.de")
	if p := b.post("/login/2fa", url.Values{"code": {codes[0][1]}}); p.status != http.StatusUnauthorized {
		t.Fatalf("recovery code reused: %d", p.status)
	}
	// The next time step's code is fresh and accepted.
	if p := b.post("/login/2fa", url.Values{"code": {totpNow(t, secret, enrolledAt.Add(30*time.Second))}}); p.status != http.StatusSeeOther {
		t.Fatalf("fresh code: %d", p.status)
	}
	// An admin can reset the agent's 2FA.
	a := sessionFor(t, f.g, f.admin)
	if p := a.post(fmt.Sprintf("/users/%d/reset-2fa", u.ID), nil); p.status != http.StatusSeeOther {
		t.Fatalf("reset: %d", p.status)
	}
	if u, _ := f.g.Store.UserByID(context.Background(), u.ID); u.TOTPEnabled {
		t.Fatal("2FA still on after reset")
	}
}

func TestPanelRequire2FAForEveryone(t *testing.T) {
	f := newPanelFixture(t)
	a := sessionFor(t, f.g, f.admin)
	if p := a.post("/settings/security", url.Values{"require_2fa": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("setting: %d", p.status)
	}
	g := sessionFor(t, f.g, f.agent)
	if p := g.get("/inbox"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/account/2fa" {
		t.Fatalf("agent without 2FA: %d %q, want /account/2fa", p.status, p.header.Get("Location"))
	}
	if p := g.get("/account/2fa"); p.status != http.StatusOK {
		t.Fatalf("enrolment reachable: %d", p.status)
	}
}

func TestPanelSecurityHeaders(t *testing.T) {
	f := newPanelFixture(t)
	b := sessionFor(t, f.g, f.admin)
	anon := newBrowser(t, f.g.Public.URL)
	for _, path := range []string{"/login", fmt.Sprintf("/conversations/%d", f.convID), "/settings", "/audit", "/dashboard"} {
		p := b.get(path)
		if path == "/login" {
			p = anon.get(path)
		}
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self' 'nonce-", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe code: %q", path, csp)
		}
		nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)[1]
		scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(p.body, -1)
		if len(scripts) == 0 {
			t.Errorf("%s: no scripts", path)
		}
		for _, s := range scripts {
			if !strings.Contains(s, `nonce="`+nonce+`"`) || !strings.Contains(s, `src="/static/`) {
				t.Errorf("%s: script without this response's nonce or not a static file: %s", path, s)
			}
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if got := p.header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		if p.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS on plain HTTP", path)
		}
	}
	// With TLS, HSTS and the __Host- cookie.
	g := testenv.New(t, testenv.Options{Panel: panel.Config{TLS: true}})
	addUser(t, g.Store, "tls@example.de", store.RoleAdmin)
	p := newBrowser(t, g.Public.URL).post("/login", url.Values{"email": {"tls@example.de"}, "password": {testPassword}})
	if !strings.Contains(p.header.Get("Strict-Transport-Security"), "max-age=63072000") {
		t.Errorf("HSTS with TLS: %q", p.header.Get("Strict-Transport-Security"))
	}
	if sc := p.header.Get("Set-Cookie"); !strings.HasPrefix(sc, "__Host-pforte=") || !strings.Contains(sc, "Secure") {
		t.Errorf("TLS cookie: %q", sc)
	}
	// Static assets: content-hash URLs are immutable.
	m := regexp.MustCompile(`href="(/static/app\.[0-9a-f]+\.css)"`).FindStringSubmatch(anon.get("/login").body)
	sp := b.get(m[1])
	if sp.status != http.StatusOK || !strings.Contains(sp.header.Get("Cache-Control"), "immutable") || sp.header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("static: %d %v", sp.status, sp.header)
	}
	if p := b.get("/static/app.000000000000.css"); p.status != http.StatusNotFound {
		t.Errorf("unknown asset: %d", p.status)
	}
}
