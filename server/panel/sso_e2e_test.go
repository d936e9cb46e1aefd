package panel_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// localGateway is a gateway whose public address is http://localhost:port:
// WebAuthn refuses IP addresses as relying party, and Chromium treats
// http://localhost as a secure context.
func localGateway(t *testing.T) (*testenv.Gateway, string) {
	t.Helper()
	g := testenv.New(t, testenv.Options{Setup: func(_ *store.Store, gw *gateway.Config, p *panel.Config) {
		p.PublicURL = strings.Replace(gw.PublicURL, "127.0.0.1", "localhost", 1)
	}})
	return g, strings.Replace(g.Public.URL, "127.0.0.1", "localhost", 1)
}

// configureSSO stores a provider configuration as the settings page would.
func configureSSO(t testing.TB, st *store.Store, o *testOP) {
	t.Helper()
	ctx := context.Background()
	if err := st.SetSettings(ctx, map[string]string{store.SettingSSOIssuer: o.Issuer, store.SettingSSOClientID: o.ClientID,
		store.SettingSSOJIT: "1", store.SettingSSORoleClaim: "groups", store.SettingSSORoleMap: "pforte-admins=admin\npforte-agents=agent",
		store.SettingSSOButtonLabel: "Testanbieter"}, map[string][]byte{store.SettingSSOClientSecret: []byte(o.Secret)}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserSSOLoginAndLogout: Chromium signs in through the provider's
// login page, lands in the inbox as the mapped role, and logs out at
// Pforte and at the provider.
func TestBrowserSSOLoginAndLogout(t *testing.T) {
	root := chrome(t)
	g, base := localGateway(t)
	addUser(t, g.Store, "chefin@example.de", store.RoleAdmin)
	o := startOP(t, base)
	configureSSO(t, g.Store, o)
	o.AddUser("lena", "lena@example.de", true, "pforte-agents")
	tab := person(t, root)
	do(t, tab, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=sso-login]`)))
	if got := text(t, tab, `[data-testid=sso-login]`); !strings.Contains(got, "Testanbieter") {
		t.Fatalf("SSO button: %q", got)
	}
	shot(t, tab, "sso-01-login")
	do(t, tab,
		chromedp.Click(chromedp.CSS(`[data-testid=sso-login]`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "lena"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "op-password"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
	)
	u, err := g.Store.UserByEmail(context.Background(), "lena@example.de")
	if err != nil || u.Role != store.RoleAgent {
		t.Fatalf("account after browser SSO login: %+v %v", u, err)
	}
	do(t, tab, chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
	if n := len(auditActions(t, g.Store)[store.AuditSSOLogout]); n != 1 {
		t.Fatalf("logout at the provider not recorded: %d", n)
	}
	do(t, tab, chromedp.Navigate(base+"/inbox"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
}

// virtualAuthenticator gives the tab a platform authenticator with user
// verification, as a laptop with a fingerprint reader has.
func virtualAuthenticator(t *testing.T, tab context.Context) cdpwebauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(tab, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Call(tab, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{Options: &cdpwebauthn.VirtualAuthenticatorOptions{
		Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21, Transport: cdpwebauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatal(err)
	}
	return res.AuthenticatorID
}

// keyCopy is a credential put into the virtual authenticator by hand, with
// only the fields this Chromium takes (cdproto's struct always sends the
// CMTG extension's fields, which a plain authenticator refuses).
type keyCopy struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle"`
	SignCount            float64 `json:"signCount"`
}

type addKeyCopyParams struct {
	AuthenticatorID cdpwebauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      keyCopy                     `json:"credential"`
}

var addKeyCopy = cdp.Command[addKeyCopyParams, cdp.Empty]{Method: cdpwebauthn.CommandAddCredential}

// TestBrowserPasskeys: enrol a passkey with Chromium's virtual
// authenticator, log in with it without a password, use it as the second
// factor after the password, see a cloned copy (counter going backwards)
// refused, and remove it.
func TestBrowserPasskeys(t *testing.T) {
	root := chrome(t)
	g, base := localGateway(t)
	addNamedUser(t, g.Store, "Mara Krüger", "mara@example.de", store.RoleAgent)
	tab := person(t, root)
	go func() {
		for _, err := range chromedp.Events(tab, cdppage.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			chromedp.Call(tab, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	auth := virtualAuthenticator(t, tab)
	passwordLogin := func() {
		do(t, tab,
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "mara@example.de"),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
			chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		)
	}
	logout := func() {
		do(t, tab, chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
	}
	passwordLogin()
	do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		chromedp.Navigate(base+"/account/passkeys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-add]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-passkey-name]`), "Laptop"),
		chromedp.Click(chromedp.CSS(`[data-testid=passkey-add]`)),
	)
	do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-list]`)))
	waitText(t, tab, `[data-testid=passkey-list]`, "Laptop")
	shot(t, tab, "passkey-01-enrolled")
	creds, err := chromedp.Call(tab, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("authenticator holds %v (%v)", creds, err)
	}
	mara, _ := g.Store.UserByEmail(context.Background(), "mara@example.de")
	if keys, _ := g.Store.Passkeys(context.Background(), mara.ID); len(keys) != 1 || keys[0].Name != "Laptop" {
		t.Fatalf("stored passkeys: %+v", keys)
	}

	// Passwordless login.
	logout()
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=passkey-login]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)))

	// The passkey as second factor after the password.
	logout()
	passwordLogin()
	do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-2fa]`)))
	shot(t, tab, "passkey-02-second-factor")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=passkey-2fa]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)))

	// A clone: the same key with an older counter.
	logout()
	c := creds.Credentials[0]
	now, err := chromedp.Call(tab, cdpwebauthn.GetCredential, cdpwebauthn.GetCredentialParams{AuthenticatorID: auth, CredentialID: c.CredentialID})
	if err != nil {
		t.Fatal(err)
	}
	if now.Credential.SignCount < 2 {
		t.Fatalf("the authenticator's counter did not grow: %v", now.Credential.SignCount)
	}
	k := now.Credential
	clone := keyCopy{CredentialID: k.CredentialID, IsResidentCredential: k.IsResidentCredential, RpID: k.RpID,
		PrivateKey: k.PrivateKey, UserHandle: k.UserHandle, SignCount: 1}
	if _, err := chromedp.Call(tab, cdpwebauthn.RemoveCredential, cdpwebauthn.RemoveCredentialParams{AuthenticatorID: auth, CredentialID: c.CredentialID}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, addKeyCopy, addKeyCopyParams{AuthenticatorID: auth, Credential: clone}); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=passkey-login]`)))
	// The login page speaks the browser's language.
	do(t, tab, chromedp.WaitVisible(chromedp.CSS(`[data-passkey-error]`)))
	if msg := text(t, tab, `[data-passkey-error]`); !strings.Contains(msg, "Zähler ist zurückgesprungen") && !strings.Contains(msg, "counter went backwards") {
		t.Fatalf("clone refusal reads %q", msg)
	}
	if n := len(auditActions(t, g.Store)[store.AuditPasskeyClone]); n != 1 {
		t.Fatalf("clone audits: %d", n)
	}
	if !strings.HasSuffix(location(t, tab), "/login") {
		t.Fatalf("a cloned passkey got in: %s", location(t, tab))
	}

	// The real key again (its counter ahead), then remove the passkey.
	clone.SignCount = k.SignCount + 10
	chromedp.Call(tab, cdpwebauthn.RemoveCredential, cdpwebauthn.RemoveCredentialParams{AuthenticatorID: auth, CredentialID: c.CredentialID})
	if _, err := chromedp.Call(tab, addKeyCopy, addKeyCopyParams{AuthenticatorID: auth, Credential: clone}); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-login]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=passkey-login]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		chromedp.Navigate(base+"/account/passkeys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-list]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=passkey-list] button.danger`)),
	)
	// The removal is a form post after the confirmation dialog.
	for i := 0; ; i++ {
		keys, _ := g.Store.Passkeys(context.Background(), mara.ID)
		if len(keys) == 0 {
			break
		}
		if i == 100 {
			t.Fatalf("passkey not removed: %d left", len(keys))
		}
		time.Sleep(100 * time.Millisecond)
	}
	acts := auditActions(t, g.Store)
	if len(acts[store.AuditPasskeyAdd]) != 1 || len(acts[store.AuditPasskeyRemove]) != 1 {
		t.Fatalf("passkey audits: add %d, remove %d", len(acts[store.AuditPasskeyAdd]), len(acts[store.AuditPasskeyRemove]))
	}
}

// TestBrowserPasskeyReauth: eleven minutes after the login, adding a
// passkey is refused until an existing passkey confirms it is the owner
// (Chromium's virtual authenticator); the passkeys page offers that.
func TestBrowserPasskeyReauth(t *testing.T) {
	root := chrome(t)
	g, base := localGateway(t)
	clk := &testClock{now: time.Now()}
	g.Panel.SetClock(clk.Now)
	addNamedUser(t, g.Store, "Mara Krüger", "mara@example.de", store.RoleAgent)
	tab := person(t, root)
	virtualAuthenticator(t, tab)
	do(t, tab,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "mara@example.de"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-form] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)),
		chromedp.Navigate(base+"/account/passkeys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-add]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-passkey-name]`), "Laptop"),
		chromedp.Click(chromedp.CSS(`[data-testid=passkey-add]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-list]`)),
	)
	beginStatus := func() int {
		status, err := chromedp.Run(tab, chromedp.Evaluate[int](`fetch("/account/passkeys/begin", {method: "POST", credentials: "same-origin"}).then(r => r.status)`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if s := beginStatus(); s != http.StatusOK {
		t.Fatalf("right after the login: %d", s)
	}
	clk.Advance(11 * time.Minute)
	if s := beginStatus(); s != http.StatusForbidden {
		t.Fatalf("eleven minutes later: %d", s)
	}
	do(t, tab, chromedp.Navigate(base+"/account/passkeys"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-reauth-passkey]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=passkey-reauth]`)))
	shot(t, tab, "passkey-03-reauth")
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid=passkey-reauth-passkey]`)))
	for i := 0; ; i++ {
		gone, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("[data-testid=passkey-reauth-passkey]") === null`))
		if gone {
			break
		}
		if i == 100 {
			t.Fatal("the passkey re-authentication did not go through")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := beginStatus(); s != http.StatusOK {
		t.Fatalf("after confirming with the passkey: %d", s)
	}
	if n := len(auditActions(t, g.Store)[store.AuditReauthFailed]); n != 1 {
		t.Fatalf("refusals audited: %d", n)
	}
}
