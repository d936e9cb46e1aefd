package panel_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestSSOStartParametersWin: what pforte serve's --sso-* flags give wins
// over the settings page (a login follows the flags' provider, JIT and
// mapping although the page saved other values); the page shows those
// fields read-only with the German note, and saving it changes only the
// fields the flags leave open.
func TestSSOStartParametersWin(t *testing.T) {
	ctx := context.Background()
	yes := true
	var op *testOP
	g := testenv.New(t, testenv.Options{Setup: func(_ *store.Store, cfg *gateway.Config, p *panel.Config) {
		op = startOP(t, cfg.PublicURL)
		p.SSO = panel.SSOFixed{Issuer: op.Issuer, ClientID: opClientID, ClientSecret: opSecret, Domains: []string{"example.de"},
			RoleClaim: "groups", RoleMap: "pforte-admins=admin\npforte-agents=agent", JIT: &yes}
	}})
	clk := &testClock{now: time.Now()}
	g.Panel.SetClock(clk.Now)
	// What the page saved before: another provider, no JIT, other domains.
	if err := g.Store.SetSettings(ctx, map[string]string{store.SettingSSOIssuer: "https://other.example", store.SettingSSOClientID: "other",
		store.SettingSSOJIT: "0", store.SettingSSODomains: "other.de", store.SettingSSORecheck: "10"}, nil); err != nil {
		t.Fatal(err)
	}
	e := &ssoEnv{g: g, clk: clk, op: op, base: g.Public.URL}
	addUser(t, g.Store, "chefin@example.de", store.RoleAdmin)
	e.admin = newBrowser(t, e.base)
	e.admin.login("chefin@example.de")

	p := e.admin.get("/settings/sso")
	if p.status != http.StatusOK || !strings.Contains(p.body, "durch die Startparameter festgelegt") || !strings.Contains(p.body, `data-testid="sso-fixed"`) {
		t.Fatalf("settings page without the start-parameter note: %d", p.status)
	}
	for _, name := range []string{"issuer", "client_id", "client_secret", "domains", "role_claim"} {
		if !regexpInput(p.body, name) {
			t.Fatalf("field %s is not read-only", name)
		}
	}
	if !strings.Contains(p.body, op.Issuer) || strings.Contains(p.body, "other.example") {
		t.Fatal("the page does not show the issuer in force")
	}
	if regexpInput(p.body, "recheck") || regexpInput(p.body, "label") {
		t.Fatal("a field the flags leave open is read-only")
	}

	// A login follows the flags: JIT on, the mapping gives agent.
	op.AddUser("anna", "anna@example.de", true, "pforte-agents")
	b := newBrowser(t, e.base)
	if p, _ := e.ssoLogin(t, b, "anna"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		t.Fatalf("login with the flags' provider: %d %s", p.status, p.body)
	}
	if u, err := g.Store.UserByEmail(ctx, "anna@example.de"); err != nil || u.Role != store.RoleAgent {
		t.Fatalf("JIT from the flags: %v %+v", err, u)
	}

	// Saving the page: the fixed fields in the form are ignored, the
	// open ones are saved.
	p = e.admin.post("/settings/sso", url.Values{"issuer": {"https://evil.example"}, "client_id": {"evil"}, "domains": {"evil.de"},
		"role_map": {"x=agent"}, "recheck": {"15"}, "label": {"Firmenkonto"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("saving with fixed fields: %d %s", p.status, p.body)
	}
	for k, want := range map[string]string{store.SettingSSOIssuer: "https://other.example", store.SettingSSOClientID: "other",
		store.SettingSSODomains: "other.de", store.SettingSSOJIT: "0", store.SettingSSORecheck: "15", store.SettingSSOButtonLabel: "Firmenkonto"} {
		if v, _, _ := g.Store.Setting(ctx, k); v != want {
			t.Fatalf("setting %s = %q after saving, want %q", k, v, want)
		}
	}
	// The flags' domain list still holds.
	op.AddUser("fremd", "fremd@other.de", true, "pforte-agents")
	if p, _ := e.ssoLogin(t, newBrowser(t, e.base), "fremd"); p.status != http.StatusForbidden || !hasRefusal(t, g.Store, "domain") {
		t.Fatalf("domain outside the flags' list: %d", p.status)
	}
}

// regexpInput reports whether the input or textarea name is disabled.
func regexpInput(body, name string) bool {
	i := strings.Index(body, `name="`+name+`"`)
	if i < 0 {
		return false
	}
	end := strings.Index(body[i:], "</label>") // the field and its note
	return end > 0 && strings.Contains(body[i:i+end], "disabled")
}

// TestSSOStartParametersPasswordOff: --sso-password-login=off ends the
// password sessions open at start, except the break-glass admin's, and
// refuses password login for everyone else; the page shows the switch
// read-only.
func TestSSOStartParametersPasswordOff(t *testing.T) {
	ctx := context.Background()
	no := false
	var op *testOP
	g := testenv.New(t, testenv.Options{Setup: func(_ *store.Store, cfg *gateway.Config, p *panel.Config) {
		op = startOP(t, cfg.PublicURL)
		p.SSO = panel.SSOFixed{Issuer: op.Issuer, ClientID: opClientID, ClientSecret: opSecret, PasswordLogin: &no, BreakGlassEmail: "chefin@example.de"}
	}})
	chefin := addUser(t, g.Store, "chefin@example.de", store.RoleAdmin)
	agent := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	admin, ag := sessionFor(t, g, chefin), sessionFor(t, g, agent)
	if err := g.Panel.ApplyStartSSO(ctx); err != nil {
		t.Fatal(err)
	}
	if p := ag.get("/account"); p.status == http.StatusOK {
		t.Fatal("the agent's password session survived the start with passwords off")
	}
	if p := admin.get("/settings/sso"); p.status != http.StatusOK || !strings.Contains(p.body, "durch die Startparameter festgelegt") ||
		!strings.Contains(p.body, `data-testid="sso-break-glass-fixed"`) || !regexpInput(p.body, "password_off") {
		t.Fatalf("break-glass admin after start: %d", p.status)
	}
	if n := len(auditActions(t, g.Store)[store.AuditPasswordSessionsEnded]); n != 1 {
		t.Fatalf("sessions ended audited %d times", n)
	}
	if p := newBrowser(t, g.Public.URL).post("/login", url.Values{"email": {"agent@example.de"}, "password": {testPassword}}); p.status != http.StatusForbidden {
		t.Fatalf("password login with --sso-password-login=off: %d", p.status)
	}
	if p := newBrowser(t, g.Public.URL).post("/login", url.Values{"email": {"chefin@example.de"}, "password": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("break-glass admin's password login: %d", p.status)
	}
}

// TestPasswordOffEndsPasswordSessions: switching password login off on
// the settings page ends the password sessions open at that moment, but
// not single sign-on sessions nor the break-glass admin's; audited.
func TestPasswordOffEndsPasswordSessions(t *testing.T) {
	e := newSSOEnv(t, nil)
	ctx := context.Background()
	agent := addUser(t, e.g.Store, "agent@example.de", store.RoleAgent)
	ag := sessionFor(t, e.g, agent)
	e.op.AddUser("anna", "anna@example.de", true, "pforte-agents")
	sso := newBrowser(t, e.base)
	if p, _ := e.ssoLogin(t, sso, "anna"); p.status != http.StatusSeeOther {
		t.Fatalf("sso login: %d", p.status)
	}
	for _, b := range []*browser{ag, sso, e.admin} {
		if p := b.get("/account"); p.status != http.StatusOK {
			t.Fatalf("before: %d", p.status)
		}
	}
	chefin, _ := e.g.Store.UserByEmail(ctx, "chefin@example.de")
	form := url.Values{"issuer": {e.op.Issuer}, "client_id": {opClientID}, "jit": {"1"}, "domains": {"example.de"}, "role_claim": {"groups"},
		"role_map": {"pforte-admins=admin\npforte-agents=agent"}, "recheck": {"10"}, "password_off": {"1"}, "break_glass": {strconv.FormatInt(chefin.ID, 10)}}
	if p := e.admin.post("/settings/sso", form); p.status != http.StatusSeeOther {
		t.Fatalf("switching password login off: %d %s", p.status, p.body)
	}
	if p := ag.get("/account"); p.status == http.StatusOK {
		t.Fatal("the agent's password session survived")
	}
	if p := sso.get("/account"); p.status != http.StatusOK {
		t.Fatalf("the single sign-on session ended: %d", p.status)
	}
	if p := e.admin.get("/account"); p.status != http.StatusOK {
		t.Fatalf("the break-glass admin's session ended: %d", p.status)
	}
	ended := auditActions(t, e.g.Store)[store.AuditPasswordSessionsEnded]
	if len(ended) != 1 || !strings.Contains(ended[0].Detail, `"sessions_ended":1`) {
		t.Fatalf("audit: %+v", ended)
	}
	// Saving again with passwords already off ends nothing more.
	if p := e.admin.post("/settings/sso", form); p.status != http.StatusSeeOther {
		t.Fatalf("saving again: %d", p.status)
	}
	if n := len(auditActions(t, e.g.Store)[store.AuditPasswordSessionsEnded]); n != 1 {
		t.Fatalf("sessions ended again: %d", n)
	}
}

// TestPasskeyEnrolNeedsRecentReauth: ten minutes after the login a
// passkey can only be added after confirming the password; the refusal
// is German and audited, and the confirmation itself is checked.
func TestPasskeyEnrolNeedsRecentReauth(t *testing.T) {
	// WebAuthn needs a host name, not an address.
	g, _ := localGateway(t)
	clk := &testClock{now: time.Now()}
	g.Panel.SetClock(clk.Now)
	f := &reauthFixture{g: g, clk: clk, u: addCheapUser(t, g.Store, "lea@example.de", store.RoleAgent)}
	f.b = sessionFor(t, g, f.u)
	if p := f.b.post("/account/passkeys/begin", nil); p.status != http.StatusOK || !strings.Contains(p.body, "challenge") {
		t.Fatalf("right after the login: %d %s", p.status, p.body)
	}
	f.clk.Advance(11 * time.Minute)
	p := f.b.post("/account/passkeys/begin", nil)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "bestätigen Sie zuerst Ihr Passwort") {
		t.Fatalf("without a recent re-authentication: %d %s", p.status, p.body)
	}
	if p := f.b.post("/account/passkeys?name=x", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("finish without a recent re-authentication: %d", p.status)
	}
	failed := auditActions(t, f.g.Store)[store.AuditReauthFailed]
	if len(failed) != 2 || !strings.Contains(failed[0].Detail, `"not_recent"`) || !strings.Contains(failed[0].Detail, `passkey.add`) {
		t.Fatalf("refusals audited: %+v", failed)
	}
	if p := f.b.get("/account/passkeys"); !strings.Contains(p.body, `data-testid="passkey-reauth"`) {
		t.Fatal("the passkeys page does not ask for the password")
	}
	if p := f.b.post("/account/passkeys/reauth", url.Values{"current": {"falsch falsch falsch"}}); p.status != http.StatusUnauthorized || !strings.Contains(p.body, wrongCurrent) {
		t.Fatalf("wrong password: %d", p.status)
	}
	if p := f.b.post("/account/passkeys/begin", nil); p.status != http.StatusForbidden {
		t.Fatalf("after a wrong password: %d", p.status)
	}
	if p := f.b.post("/account/passkeys/reauth", url.Values{"current": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("right password: %d %s", p.status, p.body)
	}
	if p := f.b.post("/account/passkeys/begin", nil); p.status != http.StatusOK {
		t.Fatalf("after the re-authentication: %d %s", p.status, p.body)
	}
	f.clk.Advance(11 * time.Minute)
	if p := f.b.post("/account/passkeys/begin", nil); p.status != http.StatusForbidden {
		t.Fatalf("the re-authentication did not expire: %d", p.status)
	}
}
