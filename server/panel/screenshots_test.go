package panel_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// The screenshot generator runs only when asked, so that the normal test
// run writes no files:
//
//	go test -tags 'sqlite_omit_load_extension sqlite_fts5 osusergo netgo' ./server/panel \
//	    -run TestScreenshots -count=1 -screenshots ../../docs/screenshots -screenshots.front ../../docs/inbox.png
var (
	screenshotDir   = flag.String("screenshots", "", "write every panel page per role, desktop and phone, into this folder (TestScreenshots)")
	screenshotFront = flag.String("screenshots.front", "", "also write the agent's desktop inbox (the README's image) to this file")
)

// Viewports of the screenshots: a laptop and a common phone (iPhone 12–15).
var shotViewports = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"desktop", 1440, 900, false},
	{"phone", 390, 844, true},
}

// shotRoles maps the role constants of routes.go to the role letters of
// middleware.go, so the page list follows the route table.
var shotRoles = map[string]string{"anyone": "", "everyone": "AGU", "admins": "A", "agents": "AG", "auditors": "AU"}

// shotPage is one screenshot subject: a GET route of the panel.
type shotPage struct {
	pattern string // as in routes.go
	name    string // file name part; "" for routes that are no page
	query   string // added to the path (a search term)
}

// shotPages names every GET route of routes.go. Fragments, files and the
// event stream have no name; TestScreenshots fails on a route missing here.
var shotPages = []shotPage{
	{pattern: "/static/"}, {pattern: "/{$}"}, {pattern: "/inbox/list"}, {pattern: "/conversations/{id}/thread"},
	{pattern: "/conversations/{id}/media/{msg}"},
	{pattern: "/setup", name: "setup"}, {pattern: "/login", name: "login"}, {pattern: "/login/2fa", name: "login-2fa"},
	{pattern: "/invite/{token}", name: "invite"},
	{pattern: "/inbox", name: "inbox"}, {pattern: "/conversations/{id}", name: "conversation"},
	{pattern: "/search", name: "search", query: "?q=Bestellung"},
	{pattern: "/contacts", name: "contacts"}, {pattern: "/contacts/{id}", name: "contact"},
	{pattern: "/templates", name: "templates"}, {pattern: "/dashboard", name: "dashboard"},
	{pattern: "/settings", name: "settings"}, {pattern: "/users", name: "users"},
	{pattern: "/privacy", name: "privacy"}, {pattern: "/audit", name: "audit"},
	{pattern: "/account", name: "account"}, {pattern: "/account/2fa", name: "account-2fa"},
	{pattern: "/conversations/new", name: "new-conversation"},
	{pattern: "/contacts/new", name: "contact-new"}, {pattern: "/contacts/{id}/edit", name: "contact-edit"},
	{pattern: "/contacts/fields", name: "contact-fields"}, {pattern: "/contacts/import", name: "contact-import"},
	{pattern: "/campaigns", name: "campaigns"}, {pattern: "/campaigns/{id}"}, {pattern: "/campaigns/{id}/counts"},
	{pattern: "/campaigns/{id}/results.csv"}, {pattern: "/optin", name: "optin"}, {pattern: "/optin/{id}/{format}"},
	{pattern: "/automations", name: "automations"}, {pattern: "/health", name: "health"}, {pattern: "/costs", name: "costs"},
	{pattern: "/settings/sso", name: "settings-sso"}, {pattern: "/account/passkeys", name: "account-passkeys"},
	{pattern: "/login/sso"}, {pattern: "/settings/teams", name: "settings-teams"},
}

// routedPage is a GET route of routes.go with the roles that may open it.
type routedPage struct {
	shotPage
	roles string
}

// routedPages reads the GET routes and their roles from routes.go.
func routedPages(t *testing.T) []routedPage {
	t.Helper()
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []routedPage
	for _, m := range regexp.MustCompile(`\{"GET (/[^"]*)", (\w+), noBody,`).FindAllStringSubmatch(string(src), -1) {
		roles, ok := shotRoles[m[2]]
		if !ok {
			t.Fatalf("routes.go: unknown role set %s for %s", m[2], m[1])
		}
		i := slices.IndexFunc(shotPages, func(p shotPage) bool { return p.pattern == m[1] })
		if i < 0 {
			t.Fatalf("routes.go has GET %s; add it to shotPages in screenshots_test.go", m[1])
		}
		out = append(out, routedPage{shotPages[i], roles})
	}
	if len(out) < 15 {
		t.Fatalf("found only %d GET routes in routes.go; the pattern is broken", len(out))
	}
	return out
}

// shotScene is one customer of the simulator writing in, as in the
// demo shop's story (cli/demo_seed.go).
type shotScene struct {
	customer int // index in simulator.Customers
	lines    []simulator.Line
	labels   []string
	closed   bool
}

var shotScenes = []shotScene{
	{customer: 2, labels: []string{"Reklamation"}, lines: []simulator.Line{
		{Text: "Guten Tag, die Handmühle kam leider mit einem Riss im Bohnenbehälter an.", Ago: 3 * time.Hour},
		{Kind: "image", Text: "So sah das Paket schon bei der Zustellung aus 😕", Ago: 3*time.Hour - time.Minute},
		{Text: "Was mache ich jetzt?", Ago: 3*time.Hour - 2*time.Minute}}},
	{customer: 6, lines: []simulator.Line{
		{Text: "Kann der Fahrer das Paket in meinem Büro abgeben? Ist im Hinterhaus, hier der Standort:", Ago: 95 * time.Minute},
		{Kind: "location", Ago: 94 * time.Minute, Place: &simulator.Place{Latitude: 52.52836, Longitude: 13.40178,
			Name: "Büro (Hinterhaus, 2. OG)", Address: "Beispielstraße 12, 10115 Berlin"}}}},
	{customer: 4, labels: []string{"Retoure"}, lines: []simulator.Line{
		{Text: "Hallo, ich möchte den Entkalker zurückschicken, der passt nicht zu meiner Maschine. Wie läuft das?", Ago: 5 * time.Hour}}},
	{customer: 12, labels: []string{"VIP"}, lines: []simulator.Line{
		{Text: "Können Sie mich bitte zurückrufen? Es geht um eine größere Bestellung für unser Büro, etwa 10 kg im Monat.", Ago: 70 * time.Minute}}},
	{customer: 9, lines: []simulator.Line{
		{Text: "Moin! Welchen Mahlgrad nehme ich für die French Press, eher grob?", Ago: 8 * time.Minute}}},
	{customer: 21, labels: []string{"Angebot"}, lines: []simulator.Line{
		{Text: "Ist der Äthiopien Yirgacheffe wieder lieferbar? Dann würde ich gleich 1 kg bestellen.", Ago: 30 * time.Hour},
		{Text: "Habe jetzt bestellt, Bestellung 10397 👍", Ago: 30*time.Hour - 3*time.Minute}}},
	{customer: 20, closed: true, lines: []simulator.Line{
		{Text: "Paket ist da, alles bestens. Danke für die schnelle Hilfe!", Ago: 27 * time.Hour}}},
}

// shotWorld is the seeded gateway the screenshots show.
type shotWorld struct {
	sg                    *testenv.SendingGateway
	admin, agent, auditor *store.User
	adminKey              []byte // the admin's TOTP secret
	inviteToken           string
	conv, contact         int64 // the complaint with the photo, and its customer
}

// seedScreenshots builds a shop's inbox with everything the pages show:
// conversations with labels, notes, a photo and a location, answers with
// receipts, templates, consent records, a legal hold, a restricted
// contact, API keys, a webhook subscription, users of every role and
// state, and the audit entries all of this leaves.
func seedScreenshots(t *testing.T) *shotWorld {
	t.Helper()
	ctx := context.Background()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		loc = time.Local
	}
	sg := testenv.NewSending(t, testenv.SendingOptions{
		Options:  testenv.Options{Gateway: gateway.Config{Location: loc}},
		Sim:      simulator.Options{DisplayPhoneNumber: "4930123456", StatusDelay: 30 * time.Millisecond},
		Campaign: &campaign.Config{Tick: time.Second},
	})
	g := sg.Gateway
	w := &shotWorld{sg: sg, inviteToken: "einladung-fuer-die-screenshots-0123456789"}
	w.admin = addNamedUser(t, g.Store, "Anna Berger", "anna@example.de", store.RoleAdmin)
	w.agent = addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	jonas := addNamedUser(t, g.Store, "Jonas Keller", "jonas@example.de", store.RoleAgent)
	w.auditor = addNamedUser(t, g.Store, "Udo Vogel", "udo@example.de", store.RoleAuditor)
	gone := addNamedUser(t, g.Store, "Tim Weber", "tim@example.de", store.RoleAgent)
	invited := addNamedUser(t, g.Store, "Mara Neumann", "mara@example.de", store.RoleAgent)
	for _, u := range []*store.User{w.admin, w.agent, jonas, w.auditor, gone, invited} {
		if err := g.Store.SetPreferences(ctx, u.ID, "de", true); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Store.CreateInvite(ctx, invited.ID, store.HashToken(w.inviteToken), w.admin.ID, time.Now().Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The admin signs in with a second factor, as an admin should.
	w.adminKey = []byte("screenshots-totp-key")
	sealed, err := g.Store.Seal(w.adminKey, "totp")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Store.EnableTOTP(ctx, w.admin.ID, sealed, []string{panel.RecoveryHash("abcd-efgh")}, 0); err != nil {
		t.Fatal(err)
	}

	seedDemo(t, g, w.agent)
	for _, l := range []struct{ name, color string }{{"Retoure", "teal"}, {"VIP", "amber"}} {
		if _, err := g.Store.CreateLabel(ctx, l.name, l.color); err != nil {
			t.Fatal(err)
		}
	}
	labels, err := g.Store.Labels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	labelID := func(name string) int64 {
		i := slices.IndexFunc(labels, func(l store.Label) bool { return l.Name == name })
		if i < 0 {
			t.Fatalf("no label %s", name)
		}
		return labels[i].ID
	}
	customers := simulator.Customers(22)
	var photo string
	for i, sc := range shotScenes {
		c := customers[sc.customer]
		for _, l := range sc.lines {
			wamid, code, err := sg.Sim.WriteLine(ctx, c, l)
			if err != nil || code != http.StatusOK {
				t.Fatalf("%s writes: %d %v", c.Name, code, err)
			}
			if l.Kind == "image" {
				photo = wamid
			}
		}
		key := c.WaID
		if key == "" {
			key = c.UserID
		}
		conv := conversationID(t, g.Store, key)
		for _, name := range sc.labels {
			if err := g.Store.SetConversationLabel(ctx, conv, labelID(name), true); err != nil {
				t.Fatal(err)
			}
		}
		if sc.closed {
			if err := g.Store.MarkRead(ctx, conv); err != nil {
				t.Fatal(err)
			}
			if err := g.Store.SetConversationStatus(ctx, conv, "closed"); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			w.conv = conv
			ct, err := g.Store.ContactByKey(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			w.contact = ct.ID
		}
	}
	testenv.Eventually(t, 15*time.Second, "the customer's photo downloaded", func() bool {
		m, err := g.Store.MessageByWAMID(ctx, photo)
		return err == nil && m.Media != nil && m.Media.State == "stored"
	})

	// What people did in the panel, through the panel, so that the audit
	// log records it as it would.
	lea, anna := sessionFor(t, g, w.agent), sessionFor(t, g, w.admin)
	must := func(p page, what string) {
		t.Helper()
		if p.status != http.StatusOK && p.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %.300s", what, p.status, p.body)
		}
	}
	conv := fmt.Sprintf("/conversations/%d", w.conv)
	must(anna.post(conv+"/assign", url.Values{"user": {fmt.Sprint(w.agent.ID)}}), "assign")
	must(lea.post(conv+"/notes", url.Values{"body": {"Foto zeigt Transportschaden. Ersatzmühle ist reserviert, DHL-Schadensmeldung läuft."}}), "note")
	must(multipartPost(t, lea, conv+"/send", map[string]string{"contact": fmt.Sprint(w.contact), "text": "Das tut uns sehr leid! Wir schicken Ihnen heute noch eine neue Mühle, die beschädigte können Sie behalten."}, "", "", nil), "reply")
	must(lea.post(conv+"/secure-links", url.Values{"prompt": {"Bitte laden Sie hier den Kaufbeleg hoch."}, "ttl": {"72"}}), "secure link")
	contact := fmt.Sprintf("/contacts/%d", w.contact)
	must(lea.post(contact+"/consent", url.Values{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {"Bestellschein 10482, Kästchen „Newsletter per WhatsApp“ angekreuzt"}}), "consent")
	must(anna.post(contact+"/holds", url.Values{"preset": {"voucher"}, "reason": {"Rechnung 2025-0412 (Ersatzlieferung Handmühle)"}}), "legal hold")
	must(anna.post("/settings/apikeys", url.Values{"name": {"Warenwirtschaft"}, "scope": {string(store.ScopeRead), string(store.ScopeSend)}}), "api key")
	must(anna.post("/settings/apikeys", url.Values{"name": {"Altes CRM"}, "scope": {string(store.ScopeRead)}}), "api key")
	keys, err := g.Store.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == "Altes CRM" {
			must(anna.post(fmt.Sprintf("/settings/apikeys/%d/revoke", k.ID), url.Values{}), "revoke")
		}
	}
	must(anna.post(fmt.Sprintf("/users/%d/disable", gone.ID), url.Values{}), "disable user")
	must(anna.post("/privacy/retention", url.Values{"class": {store.RetainMedia}, "days": {"90"}}), "retention")
	must(anna.post("/privacy/stop-words", url.Values{"words": {"STOP\nABMELDEN\nKEINE WERBUNG"}, "reply": {"Sie erhalten von uns keine Werbung mehr per WhatsApp."}}), "stop words")
	if _, _, err := g.Store.CreateSubscription(ctx, store.UserActor(w.admin.ID), store.SubscriptionInput{Name: "Warenwirtschaft",
		URL: "https://erp.example.de/pforte/webhook", Secret: "geheimes-webhook-secret-0123456789", Events: store.EventMessages | store.EventStatuses, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	// A customer asked to be forgotten but an invoice must be kept: the
	// contact is restricted, visible to admins only.
	wagner := fmt.Sprintf("/contacts/%d", contactID(t, g.Store, "4917611122233"))
	must(anna.post(wagner+"/holds", url.Values{"preset": {"voucher"}, "reason": {"Rechnung 2025-0388 (Angebot angenommen)"}}), "legal hold")
	must(anna.post(wagner+"/erase", url.Values{"reason": {"Auskunfts- und Löschantrag per E-Mail vom 02.12."}}), "erase")
	// The seeding sessions have no browser; they would show up as
	// nameless devices on the account pages.
	must(lea.post("/logout", url.Values{}), "logout")
	must(anna.post("/logout", url.Values{}), "logout")
	// Someone mistyped a password.
	newBrowser(t, g.Public.URL).post("/login", url.Values{"email": {"lea@example.de"}, "password": {"falsch"}})
	return w
}

// shooter takes the screenshots of one browser tab.
type shooter struct {
	t     *testing.T
	dir   string
	base  string
	tab   context.Context
	files map[string][]string // role → file names, for the README check
}

// shoot opens path at both viewports and saves <role>-<name>-<viewport>.png.
// A page that sends this role elsewhere (the 2FA enrolment of someone who
// has 2FA) is skipped.
func (s *shooter) shoot(role, name, path string) {
	s.t.Helper()
	for _, vp := range shotViewports {
		emulate := chromedp.EmulateViewport(vp.width, vp.height)
		if vp.mobile {
			emulate = chromedp.EmulateViewport(vp.width, vp.height, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(s.tab, emulate, chromedp.Navigate(s.base+path), chromedp.WaitReady(chromedp.CSS(`body`))); err != nil {
			s.t.Fatalf("%s %s (%s): %v", role, path, vp.name, err)
		}
		if got := location(s.t, s.tab); !strings.HasPrefix(got, s.base+strings.SplitN(path, "?", 2)[0]) {
			s.t.Logf("%s %s: sent to %s, no screenshot", role, path, got)
			return
		}
		// Fonts, htmx swaps and the live stream settle.
		do(s.t, s.tab, chromedp.Sleep(400*time.Millisecond))
		// A full page is shot with a viewport as tall as the page, so that
		// fixed parts (the phone's tab bar, the sidebar) sit where a reader
		// would see them at the end, not in the middle of the picture.
		height, err := chromedp.Run(s.tab, chromedp.Evaluate[int64](`Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)`))
		if err != nil {
			s.t.Fatal(err)
		}
		if height > vp.height {
			tall := chromedp.EmulateViewport(vp.width, height)
			if vp.mobile {
				tall = chromedp.EmulateViewport(vp.width, height, chromedp.EmulateMobile)
			}
			do(s.t, s.tab, tall, chromedp.Sleep(300*time.Millisecond))
		}
		buf, err := chromedp.Run(s.tab, chromedp.CaptureScreenshot())
		if err != nil {
			s.t.Fatalf("screenshot %s %s: %v", role, path, err)
		}
		file := fmt.Sprintf("%s-%s-%s.png", role, name, vp.name)
		if err := os.WriteFile(filepath.Join(s.dir, file), buf, 0o644); err != nil {
			s.t.Fatal(err)
		}
		s.files[role] = append(s.files[role], file)
	}
}

// TestScreenshots takes a screenshot of every panel page each role may
// open, in German, at desktop and phone width. With -screenshots DIR it
// writes them there (docs/screenshots); without, into a temporary folder,
// so that every run proves each page renders for each role.
func TestScreenshots(t *testing.T) {
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	}
	pages := routedPages(t)
	root := chrome(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w := seedScreenshots(t)
	base := w.sg.Public.URL
	s := &shooter{t: t, dir: dir, base: base, files: map[string][]string{}}
	pathOf := func(p routedPage) string {
		path := strings.NewReplacer("{token}", w.inviteToken).Replace(p.pattern)
		if strings.HasPrefix(path, "/contacts/") {
			path = strings.Replace(path, "{id}", fmt.Sprint(w.contact), 1)
		}
		return strings.Replace(path, "{id}", fmt.Sprint(w.conv), 1) + p.query
	}

	// Before login: a fresh installation's setup, the login, an
	// invitation and the second factor.
	fresh := testenv.New(t, testenv.Options{})
	s.tab = longTab(t, root)
	s.base = fresh.Public.URL
	s.shoot("public", "setup", "/setup")
	s.base = base
	s.shoot("public", "login", "/login")
	s.shoot("public", "invite", pathOf(routedPage{shotPage: shotPage{pattern: "/invite/{token}"}}))
	login := func(tab context.Context, email string) {
		do(t, tab, chromedp.EmulateViewport(1440, 900), chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
			chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)))
		leftLogin(t, tab)
	}
	login(s.tab, w.admin.Email)
	s.shoot("public", "login-2fa", "/login/2fa")
	do(t, s.tab, chromedp.EmulateViewport(1440, 900), chromedp.Navigate(base+"/login/2fa"),
		chromedp.SendKeys(chromedp.CSS(`input[name=code]`), panel.TOTPCode(w.adminKey, time.Now().Unix()/panel.TOTPStep)),
		chromedp.Click(chromedp.CSS(`[data-testid=totp-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=convlist]`)))

	for _, r := range []struct {
		role, letter string
		user         *store.User
	}{{"admin", "A", w.admin}, {"agent", "G", w.agent}, {"auditor", "U", w.auditor}} {
		if r.role != "admin" {
			s.tab = longTab(t, root)
			login(s.tab, r.user.Email)
		}
		for _, p := range pages {
			if p.name == "" || p.roles == "" || !strings.Contains(p.roles, r.letter) {
				continue
			}
			s.shoot(r.role, p.name, pathOf(p))
		}
		if r.role == "agent" && *screenshotFront != "" {
			if err := os.WriteFile(*screenshotFront, mustRead(t, filepath.Join(s.dir, "agent-conversation-desktop.png")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for role, files := range s.files {
		t.Logf("%s: %d screenshots", role, len(files))
	}
}

// leftLogin waits until the form's navigation has left /login and the next
// page loaded; the login page has a main too, so waiting for one is not enough.
func leftLogin(t *testing.T, tab context.Context) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// Evaluating fails while the page changes; that is part of waiting.
		done, err := chromedp.Run(tab, chromedp.Evaluate[bool](`location.pathname != "/login" && document.readyState == "complete"`))
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still on the login page: %v", err)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
