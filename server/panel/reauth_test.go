package panel_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// reauthFixture is a user with a session on a hand-moved clock.
type reauthFixture struct {
	g   *testenv.Gateway
	clk *testClock
	u   *store.User
	b   *browser
	key []byte // TOTP secret, when 2FA is on
}

func newReauthFixture(t *testing.T, twoFactor bool) *reauthFixture {
	t.Helper()
	g := testenv.New(t, testenv.Options{})
	clk := &testClock{now: time.Now()}
	g.Panel.SetClock(clk.Now)
	f := &reauthFixture{g: g, clk: clk, u: addCheapUser(t, g.Store, "lea@example.de", store.RoleAgent)}
	if twoFactor {
		f.key = []byte("12345678901234567890")
		sealed, err := g.Store.Seal(f.key, "totp")
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Store.EnableTOTP(context.Background(), f.u.ID, sealed, []string{panel.RecoveryHash("abcd-efgh")}, 0); err != nil {
			t.Fatal(err)
		}
	}
	f.b = sessionFor(t, g, f.u)
	return f
}

// code is the current TOTP code; each call moves the clock a step on, as
// a code is accepted once.
func (f *reauthFixture) code() string {
	f.clk.Advance(30 * time.Second)
	return panel.TOTPCode(f.key, f.clk.Now().Unix()/panel.TOTPStep)
}

func (f *reauthFixture) user(t *testing.T) *store.User {
	t.Helper()
	u, err := f.g.Store.UserByID(context.Background(), f.u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// refused posts form and checks the answer and that nothing changed.
func (f *reauthFixture) refused(t *testing.T, path string, form url.Values, status int, msg string) {
	t.Helper()
	before := f.user(t)
	p := f.b.post(path, form)
	if p.status != status || !strings.Contains(p.body, msg) {
		t.Fatalf("%s %v: %d, want %d with %q", path, form, p.status, status, msg)
	}
	after := f.user(t)
	if after.PasswordHash != before.PasswordHash || after.Email != before.Email || after.TOTPEnabled != before.TOTPEnabled {
		t.Fatalf("%s %v changed the account", path, form)
	}
}

const (
	newPassword  = "ein ganz neuer langer Satz"
	noCurrent    = "Bitte geben Sie Ihr aktuelles Passwort ein."
	wrongCurrent = "Das aktuelle Passwort stimmt nicht."
	wrong2FA     = "Das aktuelle Passwort oder der Bestätigungscode stimmt nicht."
)

// TestAccountChangesNeedCurrentPassword: without 2FA, changing the password
// or the e-mail address needs the current password.
func TestAccountChangesNeedCurrentPassword(t *testing.T) {
	f := newReauthFixture(t, false)
	f.refused(t, "/account/password", url.Values{"password": {newPassword}}, http.StatusUnprocessableEntity, noCurrent)
	f.refused(t, "/account/password", url.Values{"password": {newPassword}, "current": {"geraten-geraten"}}, http.StatusUnauthorized, wrongCurrent)
	f.refused(t, "/account/email", url.Values{"email": {"neu@example.de"}}, http.StatusUnprocessableEntity, noCurrent)
	f.refused(t, "/account/email", url.Values{"email": {"neu@example.de"}, "current": {"geraten-geraten"}}, http.StatusUnauthorized, wrongCurrent)

	if p := f.b.post("/account/email", url.Values{"email": {"Neu@Example.de"}, "current": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("e-mail change: %d", p.status)
	}
	if u := f.user(t); u.Email != "neu@example.de" {
		t.Fatalf("e-mail %q", u.Email)
	}
	if p := f.b.post("/account/password", url.Values{"password": {newPassword}, "current": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("password change: %d", p.status)
	}
	if !panel.CheckPassword(f.user(t).PasswordHash, newPassword) {
		t.Fatal("password not changed")
	}
	// English, for those who chose it.
	if err := f.g.Store.SetPreferences(context.Background(), f.u.ID, "en", false); err != nil {
		t.Fatal(err)
	}
	f.refused(t, "/account/password", url.Values{"password": {"noch ein neuer Satz"}, "current": {"falsch-falsch"}}, http.StatusUnauthorized, "The current password is wrong.")
	// An address another account has is refused.
	addCheapUser(t, f.g.Store, "belegt@example.de", store.RoleAgent)
	f.refused(t, "/account/email", url.Values{"email": {"belegt@example.de"}, "current": {newPassword}}, http.StatusConflict, "This e-mail address")
}

// TestAccountChangesNeedSecondFactor: with 2FA on, turning it off and
// changing the password or e-mail address also need a code.
func TestAccountChangesNeedSecondFactor(t *testing.T) {
	f := newReauthFixture(t, true)
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/account/password", url.Values{"password": {newPassword}}},
		{"/account/email", url.Values{"email": {"neu@example.de"}}},
		{"/account/2fa/disable", url.Values{}},
	} {
		with := func(kv ...string) url.Values {
			v := url.Values{}
			for k, vs := range c.form {
				v[k] = vs
			}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		f.refused(t, c.path, with(), http.StatusUnprocessableEntity, noCurrent)
		f.refused(t, c.path, with("current", "geraten-geraten", "code", f.code()), http.StatusUnauthorized, wrong2FA)
		f.refused(t, c.path, with("current", testPassword), http.StatusUnauthorized, wrong2FA)
		f.refused(t, c.path, with("current", testPassword, "code", "000000"), http.StatusUnauthorized, wrong2FA)
		if c.path == "/account/password" { // a recovery code does as well, once
			if p := f.b.post(c.path, with("current", testPassword, "code", "ABCD EFGH")); p.status != http.StatusSeeOther {
				t.Fatalf("%s with a recovery code: %d", c.path, p.status)
			}
			f.refused(t, c.path, with("current", newPassword, "code", "abcd-efgh"), http.StatusUnauthorized, wrong2FA)
			if !panel.CheckPassword(f.user(t).PasswordHash, newPassword) {
				t.Fatal("password not changed")
			}
			continue
		}
		if p := f.b.post(c.path, with("current", newPassword, "code", f.code())); p.status != http.StatusSeeOther {
			t.Fatalf("%s: %d", c.path, p.status)
		}
	}
	if u := f.user(t); u.Email != "neu@example.de" || u.TOTPEnabled {
		t.Fatalf("after the changes: %q, 2FA %v", u.Email, u.TOTPEnabled)
	}
}

// TestAccountReauthThrottled: wrong current passwords are throttled like
// logins; once locked, even the right one is refused without hashing.
func TestAccountReauthThrottled(t *testing.T) {
	f := newReauthFixture(t, false)
	for range panel.PairLimit {
		f.refused(t, "/account/password", url.Values{"password": {newPassword}, "current": {"geraten-geraten"}}, http.StatusUnauthorized, wrongCurrent)
	}
	hashes := f.g.Panel.ArgonCalls()
	f.refused(t, "/account/password", url.Values{"password": {newPassword}, "current": {testPassword}}, http.StatusTooManyRequests, "Zu viele Fehlversuche")
	f.refused(t, "/account/email", url.Values{"email": {"neu@example.de"}, "current": {testPassword}}, http.StatusTooManyRequests, "Zu viele Fehlversuche")
	if n := f.g.Panel.ArgonCalls() - hashes; n != 0 {
		t.Fatalf("throttled re-authentication hashed %d times", n)
	}
	f.clk.Advance(time.Minute)
	if p := f.b.post("/account/password", url.Values{"password": {newPassword}, "current": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("after the lock: %d", p.status)
	}
}
