package panel_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// BenchmarkSSOLogin: whole sign-ins through the real provider on loopback
// (Pforte's redirect, the provider's login page, code exchange, ID token
// and userinfo checks, session), per second.
func BenchmarkSSOLogin(b *testing.B) {
	g := testenv.New(b, testenv.Options{})
	o := startOP(b, g.Public.URL)
	configureSSO(b, g.Store, o)
	o.AddUser("anna", "anna@example.de", true, "pforte-agents")
	br := newBrowser(b, g.Public.URL)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		p := br.get("/login/sso")
		cb := signInAtOP(b, br.client, p.header.Get("Location"), "anna")
		if p := br.get(cb[len(g.Public.URL):]); p.status != http.StatusSeeOther {
			b.Fatalf("callback: %d", p.status)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

// BenchmarkSSOSessionRequest: a page request in a session started through
// the provider, between re-checks (the settings are read to know the
// interval), against the same page in a password session.
func BenchmarkSSOSessionRequest(b *testing.B) {
	g := testenv.New(b, testenv.Options{})
	o := startOP(b, g.Public.URL)
	configureSSO(b, g.Store, o)
	o.AddUser("anna", "anna@example.de", true, "pforte-agents")
	sso := newBrowser(b, g.Public.URL)
	p := sso.get("/login/sso")
	sso.get(signInAtOP(b, sso.client, p.header.Get("Location"), "anna")[len(g.Public.URL):])
	addUser(b, g.Store, "pw@example.de", store.RoleAgent)
	pw := newBrowser(b, g.Public.URL)
	pw.login("pw@example.de")
	for _, c := range []struct {
		name string
		br   *browser
	}{{"sso", sso}, {"password", pw}} {
		b.Run(c.name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if p := c.br.get("/account"); p.status != http.StatusOK {
					b.Fatalf("%s: %d", c.name, p.status)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
		})
	}
}
