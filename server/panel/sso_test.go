package panel_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// ssoEnv is a Pforte on a hand-moved clock, a real OpenID Provider, and
// an admin who configured single sign-on through the settings page.
type ssoEnv struct {
	g     *testenv.Gateway
	clk   *testClock
	op    *testOP
	admin *browser
	base  string
}

func newSSOEnv(t *testing.T, extra url.Values) *ssoEnv {
	t.Helper()
	g := testenv.New(t, testenv.Options{})
	clk := &testClock{now: time.Now()}
	g.Panel.SetClock(clk.Now)
	e := &ssoEnv{g: g, clk: clk, base: g.Public.URL}
	e.op = startOP(t, e.base)
	addUser(t, g.Store, "chefin@example.de", store.RoleAdmin)
	e.admin = newBrowser(t, e.base)
	e.admin.login("chefin@example.de")
	form := url.Values{"issuer": {e.op.Issuer}, "client_id": {opClientID}, "client_secret": {opSecret}, "jit": {"1"},
		"domains": {"example.de"}, "role_claim": {"groups"}, "role_map": {"pforte-admins=admin\npforte-agents=agent\npforte-audit=auditor"},
		"recheck": {"10"}, "label": {"Testanbieter"}}
	for k, v := range extra {
		form[k] = v
	}
	if p := e.admin.post("/settings/sso", form); p.status != http.StatusSeeOther {
		t.Fatalf("saving SSO settings: %d %s", p.status, p.body)
	}
	return e
}

// ssoLogin runs a whole sign-in for the provider's user in b and returns
// Pforte's answer to the callback and the callback URL.
func (e *ssoEnv) ssoLogin(t *testing.T, b *browser, user string) (page, string) {
	t.Helper()
	p := b.get("/login/sso")
	if p.status != http.StatusFound || !strings.HasPrefix(p.header.Get("Location"), e.op.Issuer) {
		t.Fatalf("/login/sso: %d to %q: %s", p.status, p.header.Get("Location"), p.body)
	}
	start, _ := url.Parse(p.header.Get("Location"))
	q := start.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorization request without PKCE, nonce or state: %s", start)
	}
	cb := signInAtOP(t, b.client, p.header.Get("Location"), user)
	return b.get(strings.TrimPrefix(cb, e.base)), cb
}

func refusals(t *testing.T, st *store.Store) []string {
	t.Helper()
	var out []string
	for _, e := range auditActions(t, st)[store.AuditSSORefused] {
		out = append(out, e.Detail)
	}
	return out
}

func hasRefusal(t *testing.T, st *store.Store, reason string) bool {
	t.Helper()
	for _, d := range refusals(t, st) {
		if strings.Contains(d, `"reason":"`+reason+`"`) {
			return true
		}
	}
	return false
}

// TestSSOLoginCreatesMapsAndReplays: the first login creates the account
// with the role its group maps to; a group change at the provider changes
// the role at the next login (audited); the same answer cannot be used
// twice, and a started login expires.
func TestSSOLoginCreatesMapsAndReplays(t *testing.T) {
	e := newSSOEnv(t, nil)
	ctx := context.Background()
	e.op.AddUser("anna", "anna@example.de", true, "pforte-agents")

	b := newBrowser(t, e.base)
	p, cb := e.ssoLogin(t, b, "anna")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		t.Fatalf("callback: %d %s", p.status, p.body)
	}
	u, err := e.g.Store.UserByEmail(ctx, "anna@example.de")
	if err != nil {
		t.Fatalf("no account created just in time: %v", err)
	}
	if u.Role != store.RoleAgent || u.PasswordHash != "" {
		t.Fatalf("created account: role %s, password %q", u.Role, u.PasswordHash)
	}
	ids, _ := e.g.Store.UserIdentities(ctx, u.ID)
	if len(ids) != 1 || ids[0].Issuer != e.op.Issuer || ids[0].Subject != "anna" {
		t.Fatalf("identities: %+v", ids)
	}
	if p := b.get("/inbox"); p.status != http.StatusOK {
		t.Fatalf("inbox after SSO login: %d", p.status)
	}
	acts := auditActions(t, e.g.Store)
	if len(acts[store.AuditSSOUserCreate]) != 1 || len(acts[store.AuditSSOLogin]) != 1 {
		t.Fatalf("audit: create %d, login %d", len(acts[store.AuditSSOUserCreate]), len(acts[store.AuditSSOLogin]))
	}

	// The provider's answer again (a replayed state): refused, no session.
	before, _ := e.g.Store.UserSessions(ctx, u.ID)
	other := newBrowser(t, e.base)
	if p := other.get(strings.TrimPrefix(cb, e.base)); p.status != http.StatusBadRequest || !strings.Contains(p.body, "abgelaufen oder wurde schon verwendet") {
		t.Fatalf("replayed callback: %d", p.status)
	}
	if p := b.get(strings.TrimPrefix(cb, e.base)); p.status != http.StatusBadRequest {
		t.Fatalf("replayed callback in the same browser: %d", p.status)
	}
	after, _ := e.g.Store.UserSessions(ctx, u.ID)
	if len(after) != len(before) || !hasRefusal(t, e.g.Store, "state") {
		t.Fatalf("replay: sessions %d → %d, refusals %v", len(before), len(after), refusals(t, e.g.Store))
	}

	// Group change at the provider: admin at the next login.
	e.op.SetGroups("anna", "pforte-admins", "pforte-agents")
	if p, _ := e.ssoLogin(t, b, "anna"); p.status != http.StatusSeeOther {
		t.Fatalf("second login: %d", p.status)
	}
	if u, _ = e.g.Store.UserByID(ctx, u.ID); u.Role != store.RoleAdmin {
		t.Fatalf("role after group change: %s", u.Role)
	}
	roles := auditActions(t, e.g.Store)[store.AuditSSORole]
	if len(roles) != 1 || !strings.Contains(roles[0].Detail, `"to":"admin"`) {
		t.Fatalf("role change audit: %+v", roles)
	}

	// A login started and finished after the state's ten minutes.
	p = b.get("/login/sso")
	cb = signInAtOP(t, b.client, p.header.Get("Location"), "anna")
	e.clk.Advance(11 * time.Minute)
	if p := b.get(strings.TrimPrefix(cb, e.base)); p.status != http.StatusBadRequest {
		t.Fatalf("expired state: %d", p.status)
	}
}

// TestSSORefusals: an unverified e-mail does not link to the existing
// account, a token for another client is refused, a domain not allowed
// is refused, an unknown user without just-in-time creation is refused;
// each with an audit line and nothing linked or created.
func TestSSORefusals(t *testing.T) {
	e := newSSOEnv(t, nil)
	ctx := context.Background()
	bob := addUser(t, e.g.Store, "bob@example.de", store.RoleAgent)
	e.op.AddUser("bob", "bob@example.de", false, "pforte-agents")
	b := newBrowser(t, e.base)
	p, _ := e.ssoLogin(t, b, "bob")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "nicht bestätigt") {
		t.Fatalf("unverified e-mail: %d", p.status)
	}
	if ids, _ := e.g.Store.UserIdentities(ctx, bob.ID); len(ids) != 0 || !hasRefusal(t, e.g.Store, "email_unverified") {
		t.Fatalf("unverified e-mail linked: %v", ids)
	}

	e.op.AddUser("carl", "carl@example.de", true, "pforte-agents")
	e.op.wrongAudience.Store(true)
	p, _ = e.ssoLogin(t, b, "carl")
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "andere Anwendung") || !hasRefusal(t, e.g.Store, "wrong_audience") {
		t.Fatalf("token for another audience: %d", p.status)
	}
	e.op.wrongAudience.Store(false)
	if _, err := e.g.Store.UserByEmail(ctx, "carl@example.de"); err == nil {
		t.Fatal("an account was created from a token for another audience")
	}

	e.op.AddUser("eve", "eve@elsewhere.example", true, "pforte-admins")
	if p, _ = e.ssoLogin(t, b, "eve"); p.status != http.StatusForbidden || !hasRefusal(t, e.g.Store, "domain") {
		t.Fatalf("foreign domain: %d", p.status)
	}
	e.op.AddUser("nogroup", "nogroup@example.de", true)
	if p, _ = e.ssoLogin(t, b, "nogroup"); p.status != http.StatusForbidden || !hasRefusal(t, e.g.Store, "no_role") {
		t.Fatalf("no mapped group, no default role: %d", p.status)
	}
	for _, addr := range []string{"eve@elsewhere.example", "nogroup@example.de"} {
		if _, err := e.g.Store.UserByEmail(ctx, addr); err == nil {
			t.Fatalf("%s was created", addr)
		}
	}
}

// TestSSODisabledAtProvider: the session is re-checked with the refresh
// token every recheck interval; once the provider refuses (account
// disabled there) the session ends, audited.
func TestSSODisabledAtProvider(t *testing.T) {
	e := newSSOEnv(t, url.Values{"recheck": {"5"}})
	e.op.AddUser("anna", "anna@example.de", true, "pforte-agents")
	b := newBrowser(t, e.base)
	if p, _ := e.ssoLogin(t, b, "anna"); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	// A re-check while the account is active keeps the session.
	e.clk.Advance(6 * time.Minute)
	if p := b.get("/inbox"); p.status != http.StatusOK {
		t.Fatalf("after a successful re-check: %d", p.status)
	}
	e.op.Disable("anna")
	// Within the interval nothing is asked.
	e.clk.Advance(2 * time.Minute)
	if p := b.get("/inbox"); p.status != http.StatusOK {
		t.Fatalf("within the interval: %d", p.status)
	}
	e.clk.Advance(4 * time.Minute)
	if p := b.get("/inbox"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
		t.Fatalf("after the account was disabled at the provider: %d %s", p.status, p.header.Get("Location"))
	}
	ended := auditActions(t, e.g.Store)[store.AuditSSOSessionEnded]
	if len(ended) != 1 || !strings.Contains(ended[0].Detail, "refresh_refused") {
		t.Fatalf("session end audit: %+v", ended)
	}
	// And a new login fails at the provider itself.
	p := b.get("/login/sso")
	resp, err := b.client.Get(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestSSOLogoutAtProvider: logout ends Pforte's session and sends the
// browser to the provider's end_session_endpoint, which returns it to
// Pforte's login page.
func TestSSOLogoutAtProvider(t *testing.T) {
	e := newSSOEnv(t, nil)
	e.op.AddUser("anna", "anna@example.de", true, "pforte-agents")
	b := newBrowser(t, e.base)
	if p, _ := e.ssoLogin(t, b, "anna"); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	p := b.post("/logout", url.Values{})
	m := regexp.MustCompile(`data-testid="provider-logout-link" href="([^"]+)"|href="([^"]+)" data-testid="provider-logout-link"`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("logout: %d %s", p.status, p.body)
	}
	loc := html.UnescapeString(m[1] + m[2])
	if !strings.HasPrefix(loc, e.op.Issuer) || !strings.Contains(loc, "id_token_hint=") || !strings.Contains(p.body, `http-equiv="refresh"`) {
		t.Fatalf("logout forwards to %q", loc)
	}
	resp, err := b.client.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if back := resp.Header.Get("Location"); !strings.HasPrefix(back, e.base+"/login") {
		t.Fatalf("provider sent the browser to %q (%d)", back, resp.StatusCode)
	}
	if p := b.get("/inbox"); p.status != http.StatusSeeOther {
		t.Fatalf("inbox after logout: %d", p.status)
	}
	if n := len(auditActions(t, e.g.Store)[store.AuditSSOLogout]); n != 1 {
		t.Fatalf("sso logout audits: %d", n)
	}
}

// TestSSOSettingsRefusals: a wrong issuer and a mapping that gives nobody
// admin rights are refused with a German message and nothing is saved.
func TestSSOSettingsRefusals(t *testing.T) {
	e := newSSOEnv(t, nil)
	ctx := context.Background()
	wrong := strings.Replace(e.op.Issuer, "127.0.0.1", "localhost", 1) // serves a document naming another issuer
	p := e.admin.post("/settings/sso", url.Values{"issuer": {wrong}, "client_id": {opClientID}, "recheck": {"10"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "anderen Adresse (Issuer)") {
		t.Fatalf("wrong issuer: %d", p.status)
	}
	p = e.admin.post("/settings/sso", url.Values{"issuer": {e.op.Issuer}, "client_id": {opClientID}, "role_map": {"staff=agent"}, "recheck": {"10"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "keiner Gruppe die Rolle Admin") {
		t.Fatalf("mapping without admin: %d", p.status)
	}
	if v, _, _ := e.g.Store.Setting(ctx, store.SettingSSOIssuer); v != e.op.Issuer {
		t.Fatalf("issuer saved from a refused form: %q", v)
	}
	if v, _, _ := e.g.Store.Setting(ctx, store.SettingSSORoleMap); strings.Contains(v, "staff") {
		t.Fatalf("mapping saved from a refused form: %q", v)
	}
	if !hasRefusal(t, e.g.Store, "wrong_issuer") || !hasRefusal(t, e.g.Store, "mapping_no_admin") {
		t.Fatalf("refusals: %v", refusals(t, e.g.Store))
	}
}

// TestSSOUnreachableAndPasswordOff: with the provider down the login page
// says so in German and password login still works; with password login
// switched off only the break-glass admin gets in with a password.
func TestSSOUnreachableAndPasswordOff(t *testing.T) {
	e := newSSOEnv(t, nil)
	ctx := context.Background()
	addUser(t, e.g.Store, "agent@example.de", store.RoleAgent)
	e.op.Stop()
	e.clk.Advance(2 * time.Hour) // the discovered provider is asked again
	b := newBrowser(t, e.base)
	p := b.get("/login/sso")
	if p.status != http.StatusBadGateway || !strings.Contains(p.body, "nicht erreichbar") || !strings.Contains(p.body, "mit Passwort an") {
		t.Fatalf("provider down: %d", p.status)
	}
	if !hasRefusal(t, e.g.Store, "provider_unreachable") {
		t.Fatal("unreachable provider not audited")
	}
	if p := b.post("/login", url.Values{"email": {"agent@example.de"}, "password": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("password login with the provider down: %d", p.status)
	}

	chefin, _ := e.g.Store.UserByEmail(ctx, "chefin@example.de")
	if err := e.g.Store.SetSettings(ctx, map[string]string{store.SettingSSOPasswordOff: "1", store.SettingSSOBreakGlass: strconv.FormatInt(chefin.ID, 10)}, nil); err != nil {
		t.Fatal(err)
	}
	b2 := newBrowser(t, e.base)
	p = b2.post("/login", url.Values{"email": {"agent@example.de"}, "password": {testPassword}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Passwort ist abgeschaltet") {
		t.Fatalf("password login switched off: %d", p.status)
	}
	if n := len(auditActions(t, e.g.Store)[store.AuditPasswordLoginOff]); n != 1 {
		t.Fatalf("password-off refusals audited: %d", n)
	}
	if p := b2.post("/login", url.Values{"email": {"chefin@example.de"}, "password": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("break-glass admin: %d", p.status)
	}
	p = newBrowser(t, e.base).get("/login/sso")
	if p.status != http.StatusBadGateway || strings.Contains(p.body, "mit Passwort an") {
		t.Fatalf("provider down, passwords off: %d", p.status)
	}
}

// TestSSOLastAdminKeepsRole: when the provider's groups would take admin
// rights from the last admin, the login goes ahead with the role kept,
// and the refusal is audited.
func TestSSOLastAdminKeepsRole(t *testing.T) {
	e := newSSOEnv(t, nil)
	ctx := context.Background()
	e.op.AddUser("anna", "anna@example.de", true, "pforte-admins")
	b := newBrowser(t, e.base)
	if p, _ := e.ssoLogin(t, b, "anna"); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	chefin, _ := e.g.Store.UserByEmail(ctx, "chefin@example.de")
	if err := e.g.Store.SetRole(ctx, chefin.ID, store.RoleAgent); err != nil {
		t.Fatal(err)
	}
	e.op.SetGroups("anna", "pforte-agents")
	if p, _ := e.ssoLogin(t, b, "anna"); p.status != http.StatusSeeOther {
		t.Fatalf("login of the last admin: %d", p.status)
	}
	anna, _ := e.g.Store.UserByEmail(ctx, "anna@example.de")
	if anna.Role != store.RoleAdmin || !hasRefusal(t, e.g.Store, "last_admin") {
		t.Fatalf("last admin: role %s, refusals %v", anna.Role, refusals(t, e.g.Store))
	}
	if n := len(auditActions(t, e.g.Store)[store.AuditSSORole]); n != 0 {
		t.Fatalf("a role change was audited that did not happen: %d", n)
	}
}
