package panel_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// panelGETPages lists the panel's GET routes from its route table, so a
// page added there is checked without touching this test.
func panelGETPages(t *testing.T, g *testenv.Gateway) []string {
	t.Helper()
	out := g.Panel.PagePaths()
	if len(out) < 15 {
		t.Fatalf("found only %d panel GET routes; the route table changed shape", len(out))
	}
	return out
}

// longTab is a browser context of its own (own cookies) with time for
// a whole round of pages.
func longTab(t *testing.T, root context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancel2)
	return ctx
}

// Texts a German page must not show: English UI words. Customer content
// in the seed is German, so any of these is the panel's own text.
var englishUIWords = regexp.MustCompile(`\b(Settings|Delete|Save|Saved|Contacts?|Cancel|Inbox|Search|Log ?out|Sign (in|out)|Login|Password|Users|Submit|Edit|Close|Templates|Dashboard|Privacy|Account|Retry|Revoke[d]?|Create[d]?|Remove|Loading|Error|Success(ful)?|Failed|Delivered|Pending|Unknown|Today|Yesterday|Messages?|Conversations?|Scopes?|Business-Scoped|Enabled|Disabled|Assigned|Unassigned|Language|Colou?r|Actions?|Events|Queued|Consent|Erase|Legal hold|read|send|gdpr|admin|slate|amber|teal|violet|pink|green|blue|red)\b`)

// A dotted machine key like login.success or settings.number.add.
var machineKey = regexp.MustCompile(`\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)+\b`)

// Raw references and raw JSON that belong to the store, not to people.
var rawRef = regexp.MustCompile(`\b(user|apikey|contact|conversation|subscription|hold|erasure|retention|email):[A-Za-z0-9]|\{"`)

// Mail addresses, URLs, file names and proper names (Meta's "App-Dashboard",
// the "EU-U.S. Data Privacy Framework") are data, not UI words.
var dataWords = regexp.MustCompile(`\S+@\S+|https?://\S+|\b[\w-]+\.(de|com|org|net|io|json|zip|csv|pdf|png|jpe?g|svg|js|css|db|example)\b|\{\{\w+\}\}|\b(e\.g|i\.e)\.|App-Dashboard|Data Privacy Framework`)

// TestPanelSpeaksTheUsersLanguageEverywhere logs in as admin, agent and
// auditor, opens every GET page of the route table once in German and once
// in English and fails on any text the reader's language does not explain:
// a missing English translation (shown as ⟦…⟧), English UI words on German
// pages, dotted machine keys (login.success), raw ids (user:12) or JSON.
// At 390 px width no page may scroll sideways, and logout is reachable.
func TestPanelSpeaksTheUsersLanguageEverywhere(t *testing.T) {
	root := chrome(t)
	g := testenv.New(t, testenv.Options{Panel: panel.Config{MarkUntranslated: true}})
	ctx := context.Background()
	admin := addNamedUser(t, g.Store, "Anna Berger", "anna@example.de", store.RoleAdmin)
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	auditor := addNamedUser(t, g.Store, "Udo Vogel", "udo@example.de", store.RoleAuditor)
	seedDemo(t, g, agent)
	invited := addNamedUser(t, g.Store, "Neu Kollegin", "neu@example.de", store.RoleAgent)
	const inviteToken = "einladung-fuer-den-test-0123456789"
	if err := g.Store.CreateInvite(ctx, invited.ID, store.HashToken(inviteToken), admin.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, key, err := g.Store.CreateAPIKey(ctx, "crm", store.Scopes{store.ScopeRead, store.ScopeSend})
	if err != nil {
		t.Fatal(err)
	}
	contact, err := g.Store.ContactByKey(ctx, "4917612345678")
	if err != nil {
		t.Fatal(err)
	}
	conv := conversationID(t, g.Store, "4917612345678")
	seedAuditVocabulary(t, g.Store, admin, key.Prefix, contact.ID, conv)
	// The log grows while the test browses (logins, refusals); the seeded
	// page stays where it is.
	newest, err := g.Store.AuditLog(ctx, 0, 1)
	if err != nil || len(newest) != 1 {
		t.Fatal(err)
	}
	seededAudit := fmt.Sprintf("/audit?before=%d", newest[0].ID+1)

	pages := panelGETPages(t, g)
	path := func(p string) (string, bool) {
		switch {
		case p == "/static/", p == "/events", strings.Contains(p, "/media/"):
			return "", false // files and the event stream, not pages
		}
		p = strings.NewReplacer("{$}", "", "{token}", inviteToken).Replace(p)
		if strings.HasPrefix(p, "/contacts/{id}") {
			p = strings.Replace(p, "{id}", fmt.Sprint(contact.ID), 1)
		}
		p = strings.Replace(p, "{id}", fmt.Sprint(conv), 1)
		return p, true
	}
	type visit struct{ role, lang, path string }
	var problems []string
	report := func(v visit, what string) {
		problems = append(problems, fmt.Sprintf("%s/%s %s: %s", v.role, v.lang, v.path, what))
	}

	check := func(tab context.Context, v visit, loggedIn bool) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.EmulateViewport(1440, 900), chromedp.Navigate(g.Public.URL+v.path), chromedp.WaitReady(chromedp.CSS(`body`))); err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		txt, err := chromedp.Run(tab, chromedp.Evaluate[string](`(function(){
			var parts = [document.title, document.body.innerText];
			document.querySelectorAll('[placeholder],[title],[aria-label],[alt],option,[data-confirm]').forEach(function(e){
				['placeholder','title','aria-label','alt','data-confirm'].forEach(function(a){ if (e.hasAttribute(a)) parts.push(e.getAttribute(a)); });
				if (e.tagName === 'OPTION') parts.push(e.textContent);
			});
			return parts.join('\n');
		})()`))
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if strings.Contains(txt, "⟦") {
			for _, m := range regexp.MustCompile(`⟦[^⟧]*⟧`).FindAllString(txt, -1) {
				report(v, "untranslated "+m)
			}
		}
		plain := dataWords.ReplaceAllString(txt, " ")
		if v.lang == "de" {
			for _, w := range englishUIWords.FindAllString(plain, -1) {
				report(v, fmt.Sprintf("English word %q", w))
			}
		}
		for _, w := range machineKey.FindAllString(plain, -1) {
			report(v, fmt.Sprintf("machine key %q", w))
		}
		for _, w := range rawRef.FindAllString(plain, -1) {
			report(v, fmt.Sprintf("raw reference or JSON %q", w))
		}
		// A phone: nothing may scroll sideways, and logout is in reach.
		// Fragments that htmx swaps into a page have no frame to check.
		if frame, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`!!document.querySelector('link[rel=stylesheet]')`)); !frame {
			return
		}
		if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		width, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if width > 390 {
			// Name the innermost elements that stick out.
			wide, _ := chromedp.Run(tab, chromedp.Evaluate[string](`(function(){
				var over = function(e){ return e.getBoundingClientRect().right > 391 };
				var out = [];
				document.querySelectorAll('body *').forEach(function(e){
					if (out.length < 4 && over(e) && !Array.prototype.some.call(e.children, over))
						out.push(e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + JSON.stringify((e.innerText||'').slice(0, 40)));
				});
				return out.join('; ');
			})()`))
			report(v, fmt.Sprintf("scrolls sideways at 390 px: scrollWidth %d (%s)", width, wide))
		}
		if loggedIn && !strings.HasPrefix(location(t, tab), g.Public.URL+"/login") {
			ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(function(){var b=document.querySelector('[data-testid=logout] button');if(!b)return false;var r=b.getBoundingClientRect();return r.width>0&&r.height>0&&r.left>=0&&r.right<=390&&r.top>=0&&r.bottom<=844})()`))
			if err != nil || !ok {
				report(v, "no logout within the phone screen")
			}
		}
	}

	for _, lang := range web.Languages {
		// Before login: the browser's language decides.
		anon := longTab(t, root)
		if _, err := chromedp.Call(anon, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(anon, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/login", "/setup", "/login/2fa", "/invite/" + inviteToken} {
			check(anon, visit{"anonymous", lang, p}, false)
		}
		for _, u := range []*store.User{admin, agent, auditor} {
			if err := g.Store.SetPreferences(ctx, u.ID, lang, false); err != nil {
				t.Fatal(err)
			}
			tab := longTab(t, root)
			if err := chromedp.Do(tab,
				chromedp.Navigate(g.Public.URL+"/login"),
				chromedp.SendKeys(chromedp.CSS(`input[name=email]`), u.Email),
				chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
				chromedp.Click(chromedp.CSS(`[data-testid=login-form] button`)),
				chromedp.WaitVisible(chromedp.CSS(`main#main`)),
			); err != nil {
				t.Fatalf("login %s: %v", u.Email, err)
			}
			for _, route := range pages {
				p, ok := path(route)
				if !ok || strings.HasPrefix(p, "/login") || p == "/setup" || strings.HasPrefix(p, "/invite/") {
					continue
				}
				check(tab, visit{string(u.Role), lang, p}, true)
			}
			// The audit page's second check: every action reads as words.
			if u.Role != store.RoleAgent {
				if err := chromedp.Do(tab, chromedp.EmulateViewport(1440, 900), chromedp.Navigate(g.Public.URL+seededAudit)); err != nil {
					t.Fatal(err)
				}
				got, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid=audit-table]').innerText`))
				for _, want := range map[string][]string{
					"de": {"Anmeldung erfolgreich", "Anna Berger", "API-Schlüssel „crm“", "System", "Rolle", "Vorher", "Agent", "Prüfer", "Lesen, Senden", "1.234", "Widget frobnicate"},
					"en": {"Login successful", "Anna Berger", "API key “crm”", "System", "Role", "Before", "Auditor", "Read, Send", "1,234", "Widget frobnicate"},
				}[lang] {
					if !strings.Contains(got, want) {
						problems = append(problems, fmt.Sprintf("%s/%s /audit: lacks %q", u.Role, lang, want))
					}
				}
			}
		}
	}
	slices.Sort(problems)
	problems = slices.Compact(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// seedAuditVocabulary writes one audit entry for every action of the
// vocabulary, with details like the real writers give, plus one key from
// the future that no list knows yet.
func seedAuditVocabulary(t *testing.T, st *store.Store, admin *store.User, keyPrefix string, contactID, convID int64) {
	t.Helper()
	detail := map[store.AuditAction]string{
		store.AuditLoginFailed:         `{"reason":"bad_password","locked":false}`,
		store.AuditLoginSuccess:        `{"mfa":"totp"}`,
		store.AuditUserCreate:          `{"role":"admin","first_run":true}`,
		store.AuditUserRole:            `{"from":"agent","to":"auditor"}`,
		store.AuditConversationAssign:  fmt.Sprintf(`{"assignee":%d}`, admin.ID),
		store.AuditSettingsChange:      `{"require_2fa":true}`,
		store.AuditAPIKeyCreate:        `{"scopes":"read,send"}`,
		store.AuditConsentOptIn:        `{"purpose":"marketing","source":"paper","record":3}`,
		store.AuditSettingsStopWords:   `{"count":4}`,
		store.AuditSubscriptionCreate:  `{"events":["messages","statuses"],"enabled":true}`,
		store.AuditSubscriptionUpdate:  `{"changed":["url","secret"]}`,
		store.AuditSubscriptionReplay:  `{"from":1767225600,"to":1767312000,"queued":1234}`,
		store.AuditBackupRestore:       `{"backup":"pforte-2026.db","tombstones":2,"reerased":0}`,
		store.AuditRetentionPolicy:     `{"class":"media","phone_number_id":"","days":30}`,
		store.AuditRetentionRun:        `{"media_files":3,"orphan_files":0,"erasures":1,"messages":1234,"deliveries":7}`,
		store.AuditSecureLinkCreate:    `{"link":5,"expires_at":1767312000}`,
		store.AuditLegalHoldSet:        `{"hold":2,"preset":"voucher","until":1924905600}`,
		store.AuditContactExport:       `{"messages":12,"media_files":1,"media_mismatches":0}`,
		store.AuditContactErase:        `{"subject":"a1b2","identifiers":2,"reason":"Antrag per E-Mail","messages":3,"statuses":4,"deliveries":1,"events":0,"conversations":1,"media_files":0}`,
		store.AuditContactEraseRefused: `{"subject":"a1b2","holds":1,"reason":"Antrag"}`,
	}
	target := map[store.AuditAction]string{
		store.AuditAuthzDenied:   "GET /settings",
		store.AuditUserRole:      fmt.Sprintf("user:%d", admin.ID),
		store.AuditAPIKeyUse:     "apikey:" + keyPrefix,
		store.AuditConsentOptIn:  fmt.Sprintf("contact:%d", contactID),
		store.AuditContactExport: fmt.Sprintf("contact:%d", contactID),
		store.AuditMessageRetry:  "17",
		store.AuditLegalHoldSet:  fmt.Sprintf("conversation:%d", convID),
		store.AuditRetentionRun:  "retention",
	}
	actors := []store.Actor{store.UserActor(admin.ID), store.KeyActor(keyPrefix), store.ActorSystem, store.ActorCLI, store.ActorAnonymous, store.ActorCustomer, store.ActorSetup, store.ActorStopReply}
	actions := append(slices.Clone(store.AuditActions), "widget.frobnicate")
	for i, a := range actions {
		e := store.AuditEntry{Actor: actors[i%len(actors)], Action: a, Target: target[a], Detail: detail[a], IP: "203.0.113.7"}
		if err := st.Audit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}
