package panel_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// auditActions counts audit entries per action.
func auditActions(t *testing.T, st *store.Store) map[store.AuditAction][]store.AuditEntry {
	t.Helper()
	entries, err := st.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[store.AuditAction][]store.AuditEntry{}
	for _, e := range entries {
		out[e.Action] = append(out[e.Action], e)
	}
	return out
}

func contactID(t *testing.T, st *store.Store, key string) int64 {
	t.Helper()
	c, err := st.ContactByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestPanelConsentRecords(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	admin := addNamedUser(t, g.Store, "Anna Berger", "admin@example.de", store.RoleAdmin)
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	auditor := addNamedUser(t, g.Store, "Paul Prüfer", "pruefer@example.de", store.RoleAuditor)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915112345678", "Erika Mustermann", "wamid.c1", time.Now().Unix(), "zqinhalt Rückfrage zur Rechnung"))
	id := contactID(t, g.Store, "4915112345678")
	path := fmt.Sprintf("/contacts/%d", id)
	records := func() []store.ConsentRecord {
		rs, err := g.Store.ConsentRecords(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}

	lea := sessionFor(t, g, agent)
	if p := lea.get(path); p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="consent-form"`) {
		t.Fatalf("agent contact page: %d, form shown: %v", p.status, strings.Contains(p.body, "consent-form"))
	}
	// Bad input: a clear error, the form keeps what was typed, nothing is stored.
	for _, bad := range []url.Values{
		{"purpose": {"tracking"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {"Bogen 1"}},
		{"purpose": {"marketing"}, "action": {"maybe"}, "source": {"paper"}, "evidence": {"Bogen 1"}},
		{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"hearsay"}, "evidence": {"Bogen 1"}},
		{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {""}},
		{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {strings.Repeat("x", 4097)}},
	} {
		p := lea.post(path+"/consent", bad)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-testid="consent-error"`) {
			t.Fatalf("%v: %d", bad, p.status)
		}
	}
	if p := lea.post(path+"/consent", url.Values{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {""}}); !strings.Contains(p.body, "Art. 7") {
		t.Fatal("an opt-in without evidence does not say why it is refused")
	}
	if n := len(records()); n != 0 {
		t.Fatalf("refused forms stored %d records", n)
	}

	// An agent records an opt-in: stored with its author and audited.
	if p := lea.post(path+"/consent", url.Values{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {"Bogen 4711 vom 3.11."}}); p.status != http.StatusSeeOther {
		t.Fatalf("record: %d %s", p.status, p.body)
	}
	rs := records()
	if len(rs) != 1 || rs[0].Purpose != "marketing" || rs[0].Action != "opt_in" || rs[0].Source != "paper" ||
		rs[0].Evidence != "Bogen 4711 vom 3.11." || rs[0].Actor != store.UserActor(agent.ID) {
		t.Fatalf("records: %+v", rs)
	}
	if err := g.Store.CheckMarketingConsent(ctx, id); err != nil {
		t.Fatalf("marketing consent after the opt-in: %v", err)
	}
	audit := auditActions(t, g.Store)
	if es := audit["consent.opt_in"]; len(es) != 1 || es[0].Actor != store.UserActor(agent.ID) || es[0].Target != fmt.Sprintf("contact:%d", id) {
		t.Fatalf("audit: %+v", es)
	}
	// An admin records the withdrawal; evidence is optional for that.
	if p := sessionFor(t, g, admin).post(path+"/consent", url.Values{"purpose": {"marketing"}, "action": {"opt_out"}, "source": {"phone"}}); p.status != http.StatusSeeOther {
		t.Fatalf("opt-out: %d", p.status)
	}
	if err := g.Store.CheckMarketingConsent(ctx, id); err == nil {
		t.Fatal("still consented after the withdrawal")
	}

	// The page lists both, newest first, with source, evidence and who.
	p := lea.get(path)
	list := p.body[strings.Index(p.body, `data-testid="consents"`):]
	list = list[:strings.Index(list, "</ul>")]
	for _, want := range []string{"Bogen 4711 vom 3.11.", "Lea Schmidt", "Anna Berger", "auf Papier unterschrieben", "telefonisch", "widerrufen", "erteilt"} {
		if !strings.Contains(list, want) {
			t.Errorf("consent list lacks %q", want)
		}
	}
	if strings.Index(list, "widerrufen") > strings.Index(list, "erteilt") {
		t.Error("the newest decision is not on top")
	}

	// Auditors see the records but no form, no message contents, no notes.
	pr := sessionFor(t, g, auditor)
	p = pr.get(path)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Bogen 4711 vom 3.11.") {
		t.Fatalf("auditor contact page: %d", p.status)
	}
	if strings.Contains(p.body, `data-testid="consent-form"`) || strings.Contains(p.body, "zqinhalt") || strings.Contains(p.body, "hold-form") {
		t.Fatal("the auditor gets a form or message contents")
	}
	if p := pr.post(path+"/consent", url.Values{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"paper"}, "evidence": {"x"}}); p.status != http.StatusForbidden {
		t.Fatalf("auditor records consent: %d", p.status)
	}
	if p := pr.get("/contacts"); p.status != http.StatusOK || !strings.Contains(p.body, "Erika Mustermann") {
		t.Fatalf("auditor contact list: %d", p.status)
	}
	if n := len(records()); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
}

// The composer explains a marketing template refused for want of consent,
// and sends it once a consent is recorded on the contact page.
func TestPanelMarketingTemplateNeedsConsentMessage(t *testing.T) {
	g := testenv.NewFastSending(t)
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "447700900123", "Tom", "wamid.mk1", time.Now().Unix(), "Hallo"))
	deliver(t, g.Gateway, []byte(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","time":1790010100,"changes":[{"value":{"event":"APPROVED",
"message_template_id":1,"message_template_name":"angebot_november","message_template_language":"de","reason":"NONE",
"message_template_category":"MARKETING"},"field":"message_template_status_update"}]}]}`))
	conv := conversationID(t, g.Store, "447700900123")
	lea := sessionFor(t, g.Gateway, agent)
	send := url.Values{"template": {"angebot_november|de"}, "contact": {fmt.Sprint(contactID(t, g.Store, "447700900123"))}}
	p := lea.post(fmt.Sprintf("/conversations/%d/template", conv), send)
	if p.status != http.StatusConflict || !strings.Contains(p.body, "nicht in Werbung eingewilligt") || !strings.Contains(p.body, `data-testid="composer-error"`) {
		t.Fatalf("refused template: %d %s", p.status, p.body)
	}
	if n := len(g.Sim.Requests()); n != 0 {
		t.Fatalf("Meta was called %d times", n)
	}
	// The same in English.
	if p := lea.post("/account/preferences", url.Values{"lang": {"en"}}); p.status != http.StatusSeeOther {
		t.Fatalf("preferences: %d", p.status)
	}
	if p := lea.post(fmt.Sprintf("/conversations/%d/template", conv), send); !strings.Contains(p.body, "has not consented to marketing") {
		t.Fatalf("English message missing: %d", p.status)
	}
	id := contactID(t, g.Store, "447700900123")
	if p := lea.post(fmt.Sprintf("/contacts/%d/consent", id), url.Values{"purpose": {"marketing"}, "action": {"opt_in"}, "source": {"web_form"}, "evidence": {"Newsletter-Formular 12"}}); p.status != http.StatusSeeOther {
		t.Fatalf("consent: %d", p.status)
	}
	if p := lea.post(fmt.Sprintf("/conversations/%d/template", conv), send); p.status != http.StatusSeeOther {
		t.Fatalf("after the opt-in: %d", p.status)
	}
	waitSent(t, g.Sim, "template", 1)
}

func TestPanelStopWordSettings(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	admin := addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	agent := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	auditor := addUser(t, g.Store, "pruefer@example.de", store.RoleAuditor)
	b := sessionFor(t, g, admin)
	p := b.get("/privacy")
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="stop-words"`) || !strings.Contains(p.body, "ABBESTELLEN") {
		t.Fatalf("privacy page: %d", p.status)
	}
	if p := b.post("/privacy/stop-words", url.Values{"words": {"Stop\nHalt!\r\nkeine   Werbung mehr\n\n"}, "reply": {"Sie sind abgemeldet."}}); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	words, _ := g.Store.StopWords(ctx)
	if strings.Join(words, "|") != "STOP|HALT|KEINE WERBUNG MEHR" {
		t.Fatalf("words: %q", words)
	}
	if r, _ := g.Store.StopReply(ctx); r != "Sie sind abgemeldet." {
		t.Fatalf("reply: %q", r)
	}
	audit := auditActions(t, g.Store)
	if len(audit["settings.stop_words"]) != 1 || len(audit["settings.stop_reply"]) != 1 || audit["settings.stop_words"][0].Actor != store.UserActor(admin.ID) {
		t.Fatalf("audit: %d stop_words, %d stop_reply", len(audit["settings.stop_words"]), len(audit["settings.stop_reply"]))
	}
	// The page shows what is saved.
	if p := b.get("/privacy"); !strings.Contains(p.body, "KEINE WERBUNG MEHR") || !strings.Contains(p.body, "Sie sind abgemeldet.") {
		t.Fatal("the saved words are not shown")
	}

	// Bad input changes nothing and shows the form again with the error.
	for name, bad := range map[string]url.Values{
		"empty":          {"words": {" \n \n"}},
		"too long":       {"words": {"STOP\n" + strings.Repeat("A", 65)}},
		"too many":       {"words": {strings.Repeat("WORT\n", 51)}},
		"punctuation":    {"words": {"STOP\n!!!"}},
		"reply too long": {"words": {"NEU"}, "reply": {strings.Repeat("ä", 1001)}},
	} {
		p := b.post("/privacy/stop-words", bad)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-testid="stop-error"`) {
			t.Errorf("%s: %d", name, p.status)
		}
	}
	if words, _ := g.Store.StopWords(ctx); strings.Join(words, "|") != "STOP|HALT|KEINE WERBUNG MEHR" {
		t.Fatalf("refused input changed the words: %q", words)
	}
	if r, _ := g.Store.StopReply(ctx); r != "Sie sind abgemeldet." {
		t.Fatalf("refused input changed the reply: %q", r)
	}
	for _, u := range []*store.User{agent, auditor} {
		if p := sessionFor(t, g, u).post("/privacy/stop-words", url.Values{"words": {"X"}}); p.status != http.StatusForbidden {
			t.Fatalf("%s: %d", u.Role, p.status)
		}
	}

	// The new word works: a customer writing it is opted out.
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915112345678", "Erika", "wamid.halt", time.Now().Unix(), "halt"))
	rs, _ := g.Store.ConsentRecords(ctx, contactID(t, g.Store, "4915112345678"))
	if len(rs) != 1 || rs[0].Action != "opt_out" || rs[0].Source != "customer_stop" {
		t.Fatalf("after the new stop word: %+v", rs)
	}
	// An empty confirmation restores the default text.
	if p := b.post("/privacy/stop-words", url.Values{"words": {"STOP"}, "reply": {""}}); p.status != http.StatusSeeOther {
		t.Fatalf("reset: %d", p.status)
	}
	if r, _ := g.Store.StopReply(ctx); r != store.DefaultStopReply {
		t.Fatalf("reply after reset: %q", r)
	}
}

func TestPanelSetupShowsRetentionDefaults(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	b := newBrowser(t, g.Public.URL)
	p := b.get("/setup")
	if p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="setup-retention"`) || !strings.Contains(p.body, "unter „Datenschutz“ ändern") {
		t.Fatalf("setup page: %d", p.status)
	}
	ps, err := g.Store.RetentionPolicies(ctx)
	if err != nil || len(ps) == 0 {
		t.Fatal(err)
	}
	for _, pol := range ps {
		if want := fmt.Sprintf("%d Tage", pol.Days); !strings.Contains(p.body, want) {
			t.Errorf("%s: %q not shown", pol.Class, want)
		}
	}
	if !strings.Contains(p.body, "Nachrichten:\n") && !strings.Contains(p.body, "Nachrichten:") {
		t.Error("the class names are missing")
	}
	// The page reads the store, not a copy: a changed period shows.
	if err := g.Store.SetRetentionPolicy(ctx, store.RetentionPolicy{Class: store.RetainMessages, Days: 123}, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/setup"); !strings.Contains(p.body, "123 Tage") {
		t.Fatal("the changed period is not shown")
	}
	// Also after a refused form, and in English.
	p = b.do(http.MethodPost, "/setup", url.Values{"name": {"Anna"}, "email": {"anna@example.de"}, "password": {"kurz"}}, map[string]string{"Accept-Language": "en"})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Privacy by default") || !strings.Contains(p.body, "123 days") {
		t.Fatalf("refused setup: %d", p.status)
	}
}

var secureURL = regexp.MustCompile(`data-testid="secure-link-url">([^<]+)<`)

// answerLink submits the public answer page like a browser.
func answerLink(t *testing.T, link, text string) int {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("text", text)
	mw.Close()
	resp, err := http.Post(link, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestPanelSecureLinkToCopy(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	agent := addNamedUser(t, g.Store, "Lea Schmidt", "lea@example.de", store.RoleAgent)
	auditor := addUser(t, g.Store, "pruefer@example.de", store.RoleAuditor)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915112345678", "Erika", "wamid.s1", time.Now().Unix(), "Ich schicke den Ausweis"))
	conv := conversationID(t, g.Store, "4915112345678")
	path := fmt.Sprintf("/conversations/%d/secure-links", conv)
	lea := sessionFor(t, g, agent)
	links := func() []store.SecureLink {
		ls, err := g.Store.SecureLinks(ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}

	// Refused: nothing is created.
	for name, bad := range map[string]url.Values{
		"no prompt":   {"prompt": {"  "}, "send": {"0"}},
		"long prompt": {"prompt": {strings.Repeat("x", 501)}, "send": {"0"}},
		"ttl":         {"prompt": {"Bitte IBAN"}, "ttl": {"1000"}, "send": {"0"}},
		"ttl text":    {"prompt": {"Bitte IBAN"}, "ttl": {"morgen"}, "send": {"0"}},
	} {
		if p := lea.post(path, bad); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-testid="composer-error"`) {
			t.Errorf("%s: %d", name, p.status)
		}
	}
	// Sending needs the outbox; without it nothing is created either.
	if p := lea.post(path, url.Values{"prompt": {"Bitte IBAN"}, "send": {"1"}}); p.status != http.StatusServiceUnavailable {
		t.Fatalf("send without outbox: %d", p.status)
	}
	if n := len(links()); n != 0 {
		t.Fatalf("refused requests created %d links", n)
	}

	// Created to copy: shown once, works once.
	p := lea.post(path, url.Values{"prompt": {"Bitte laden Sie hier Ihren Ausweis hoch."}, "ttl": {"24"}, "send": {"0"}})
	m := secureURL.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || !strings.HasPrefix(m[1], g.Public.URL+"/s/") {
		t.Fatalf("create: %d, url %v", p.status, m)
	}
	ls := links()
	if len(ls) != 1 || ls[0].CreatedBy != store.UserActor(agent.ID) || ls[0].ExpiresAt-ls[0].CreatedAt != 24*3600 {
		t.Fatalf("links: %+v", ls)
	}
	if es := auditActions(t, g.Store)["secure_link.create"]; len(es) != 1 || es[0].Actor != store.UserActor(agent.ID) {
		t.Fatalf("audit: %+v", es)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("answer page: %d", resp.StatusCode)
	}
	page := lea.get(fmt.Sprintf("/conversations/%d", conv))
	if !strings.Contains(page.body, `data-state="open"`) || !strings.Contains(page.body, "Bitte laden Sie hier Ihren Ausweis hoch.") {
		t.Fatal("the open link is not listed")
	}
	if strings.Contains(page.body, m[1]) {
		t.Fatal("the link is shown again after the first time")
	}
	if st := answerLink(t, m[1], "Ausweis Nr. 123"); st != http.StatusOK {
		t.Fatalf("answer: %d", st)
	}
	if page := lea.get(fmt.Sprintf("/conversations/%d", conv)); !strings.Contains(page.body, `data-state="answered"`) {
		t.Fatal("the answered link is not shown as answered")
	}
	if st := answerLink(t, m[1], "noch einmal"); st != http.StatusGone {
		t.Fatalf("second answer: %d", st)
	}
	if p := sessionFor(t, g, auditor).post(path, url.Values{"prompt": {"x"}, "send": {"0"}}); p.status != http.StatusForbidden {
		t.Fatalf("auditor: %d", p.status)
	}
}

// Without a public address (as for the API) the panel refuses links.
func TestPanelSecureLinkNeedsPublicURL(t *testing.T) {
	g := testenv.New(t, testenv.Options{Setup: func(_ *store.Store, cfg *gateway.Config, _ *panel.Config) { cfg.PublicURL = "" }})
	agent := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915112345678", "Erika", "wamid.s1", time.Now().Unix(), "Hallo"))
	conv := conversationID(t, g.Store, "4915112345678")
	p := sessionFor(t, g, agent).post(fmt.Sprintf("/conversations/%d/secure-links", conv), url.Values{"prompt": {"Bitte IBAN"}, "send": {"0"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "öffentliche Adresse") {
		t.Fatalf("%d", p.status)
	}
	if ls, _ := g.Store.SecureLinks(context.Background(), conv); len(ls) != 0 {
		t.Fatal("a link was created")
	}
}

// A link sent to the customer goes through the outbox as a text, only
// while the 24-hour window is open.
func TestPanelSecureLinkSent(t *testing.T) {
	g := testenv.NewFastSending(t)
	ctx := context.Background()
	agent := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	lea := sessionFor(t, g.Gateway, agent)
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4915112345678", "Erika", "wamid.open", time.Now().Unix(), "Hallo"))
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4915187654321", "Karl", "wamid.old", time.Now().Add(-30*time.Hour).Unix(), "Hallo"))
	open, closed := conversationID(t, g.Store, "4915112345678"), conversationID(t, g.Store, "4915187654321")

	p := lea.post(fmt.Sprintf("/conversations/%d/secure-links", open), url.Values{"prompt": {"Bitte geben Sie hier Ihre IBAN ein."}, "send": {"1"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("send: %d %s", p.status, p.body)
	}
	body := waitSent(t, g.Sim, "text", 1)
	if !strings.Contains(body, "Bitte geben Sie hier Ihre IBAN ein.") || !strings.Contains(body, g.Public.URL+"/s/") || !strings.Contains(body, "4915112345678") {
		t.Fatalf("sent: %s", body)
	}
	if ls, _ := g.Store.SecureLinks(ctx, open); len(ls) != 1 {
		t.Fatalf("%d links", len(ls))
	}

	// Window closed: refused before a link exists, as the composer refuses.
	p = lea.post(fmt.Sprintf("/conversations/%d/secure-links", closed), url.Values{"prompt": {"Bitte IBAN"}, "send": {"1"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "24-Stunden-Fenster") {
		t.Fatalf("closed window: %d", p.status)
	}
	if ls, _ := g.Store.SecureLinks(ctx, closed); len(ls) != 0 {
		t.Fatal("a link was created for a refused send")
	}
	// To copy and pass on another way, it is allowed.
	if p := lea.post(fmt.Sprintf("/conversations/%d/secure-links", closed), url.Values{"prompt": {"Bitte IBAN"}, "send": {"0"}}); p.status != http.StatusOK {
		t.Fatalf("create in a closed window: %d", p.status)
	}
	if n := len(g.Sim.Accepted()); n != 1 {
		t.Fatalf("the simulator got %d messages, want 1", n)
	}
}

// readEvents collects the conversation ids of the event stream's changes
// until stop returns true or the time is up. ready is closed once the
// stream is open. It runs in its own goroutine, so it reports with Error.
func readEvents(t *testing.T, b *browser, ready chan<- struct{}, stop func(seen map[int64]bool) bool) map[int64]bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[int64]bool{}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/events", nil)
	resp, err := b.client.Do(req)
	close(ready)
	if err != nil {
		t.Error(err)
		return seen
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	re := regexp.MustCompile(`"conversation":(\d+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			var id int64
			fmt.Sscan(m[1], &id)
			seen[id] = true
			if stop(seen) {
				break
			}
		}
	}
	return seen
}

func TestPanelRestrictedContactHiddenFromAgents(t *testing.T) {
	g := testenv.NewFastSending(t)
	ctx := context.Background()
	admin := addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	agent := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	auditor := addUser(t, g.Store, "pruefer@example.de", store.RoleAuditor)
	now := time.Now().Unix()
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4915100000001", "Rita Gesperrt", "wamid.r1", now-120, "zqgesperrt Rechnung 17"))
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4915100000002", "Otto Offen", "wamid.o1", now-60, "zqgesperrt Frage"))
	rita, conv := contactID(t, g.Store, "4915100000001"), conversationID(t, g.Store, "4915100000001")
	label, err := g.Store.CreateLabel(ctx, "Reklamation", "red")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Restrict(t, g.Store, "4915100000001")
	before, _ := g.Store.ConversationByID(ctx, conv)

	lea := sessionFor(t, g.Gateway, agent)
	secret := []string{"Rita Gesperrt", "4915100000001", "Rechnung 17"}
	// Lists and search: the agent sees Otto, never Rita.
	for _, path := range []string{"/inbox", "/inbox?assigned=all&status=all", "/inbox/list?assigned=all&status=all", "/contacts",
		"/contacts?q=Rita", "/contacts?q=4915100000001", "/search?q=Rita", "/search?q=zqgesperrt", "/search?q=4915100000001"} {
		p := lea.get(path)
		if p.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, p.status)
			continue
		}
		for _, s := range secret {
			if strings.Contains(path, s) {
				continue // the page repeats what was searched for
			}
			if strings.Contains(p.body, s) {
				t.Errorf("GET %s shows %q to an agent", path, s)
			}
		}
	}
	if p := lea.get("/search?q=zqgesperrt"); !strings.Contains(p.body, "Otto Offen") {
		t.Fatal("the search no longer finds the unrestricted customer")
	}
	// Every route of the contact and its conversation: 404, and nothing changes.
	c := func(s string) string { return fmt.Sprintf(s, conv) }
	for _, rt := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", fmt.Sprintf("/contacts/%d", rita), nil},
		{"GET", c("/conversations/%d"), nil},
		{"GET", c("/conversations/%d/thread"), nil},
		{"GET", c("/conversations/%d/media/1"), nil},
		{"POST", c("/conversations/%d/assign"), url.Values{"user": {fmt.Sprint(agent.ID)}}},
		{"POST", c("/conversations/%d/status"), url.Values{"status": {"closed"}}},
		{"POST", c("/conversations/%d/notes"), url.Values{"body": {"Notiz"}}},
		{"POST", c("/conversations/%d/labels"), url.Values{"label": {fmt.Sprint(label.ID)}, "on": {"1"}}},
		{"POST", c("/conversations/%d/send"), url.Values{"text": {"Hallo"}}},
		{"POST", c("/conversations/%d/template"), url.Values{"template": {"x|de"}}},
		{"POST", c("/conversations/%d/secure-links"), url.Values{"prompt": {"Bitte IBAN"}, "send": {"0"}}},
		{"POST", fmt.Sprintf("/contacts/%d/consent", rita), url.Values{"purpose": {"marketing"}, "action": {"opt_out"}, "source": {"agent"}}},
	} {
		p := lea.do(rt.method, rt.path, rt.form, nil)
		if p.status != http.StatusNotFound || strings.Contains(p.body, "Rita") {
			t.Errorf("%s %s as agent: %d", rt.method, rt.path, p.status)
		}
	}
	after, _ := g.Store.ConversationByID(ctx, conv)
	notes, _ := g.Store.Notes(ctx, conv)
	consents, _ := g.Store.ConsentRecords(ctx, rita)
	links, _ := g.Store.SecureLinks(ctx, conv)
	if after.Status != before.Status || after.AssigneeID != 0 || len(after.Labels) != 0 || len(notes) != 0 || len(consents) != 0 || len(links) != 0 {
		t.Fatalf("an agent's request changed the restricted conversation: %+v notes %d consents %d links %d", after, len(notes), len(consents), len(links))
	}

	// Admins see it with the badge, and cannot send either.
	b := sessionFor(t, g.Gateway, admin)
	for _, path := range []string{"/inbox?assigned=all&status=all", "/contacts", fmt.Sprintf("/contacts/%d", rita), c("/conversations/%d")} {
		p := b.get(path)
		if p.status != http.StatusOK || !strings.Contains(p.body, "Rita Gesperrt") || !strings.Contains(p.body, `data-testid="restricted"`) {
			t.Errorf("admin GET %s: %d, badge %v", path, p.status, strings.Contains(p.body, `data-testid="restricted"`))
		}
	}
	if p := b.get(c("/conversations/%d")); !strings.Contains(p.body, `data-testid="composer-blocked"`) || strings.Contains(p.body, `data-testid="composer-text"`) {
		t.Fatal("the composer is offered for a restricted contact")
	}
	for _, rt := range []struct {
		path string
		form url.Values
	}{
		{c("/conversations/%d/send"), url.Values{"text": {"Hallo"}}},
		{c("/conversations/%d/template"), url.Values{"template": {"x|de"}}},
		{c("/conversations/%d/secure-links"), url.Values{"prompt": {"Bitte IBAN"}, "send": {"1"}}},
	} {
		if p := b.post(rt.path, rt.form); p.status != http.StatusConflict || !strings.Contains(p.body, "Art. 18") {
			t.Errorf("admin POST %s: %d", rt.path, p.status)
		}
	}
	if n := len(g.Sim.Requests()); n != 0 {
		t.Fatalf("Meta was called %d times", n)
	}
	// Auditors see the contact with the badge.
	pr := sessionFor(t, g.Gateway, auditor)
	for _, path := range []string{"/contacts", fmt.Sprintf("/contacts/%d", rita)} {
		if p := pr.get(path); p.status != http.StatusOK || !strings.Contains(p.body, `data-testid="restricted"`) {
			t.Errorf("auditor GET %s: %d", path, p.status)
		}
	}

	// Live events: the agent's stream never carries the restricted
	// conversation, the admin's does.
	otto := conversationID(t, g.Store, "4915100000002")
	agentGot, adminGot := make(chan map[int64]bool, 1), make(chan map[int64]bool, 1)
	agentReady, adminReady := make(chan struct{}), make(chan struct{})
	go func() {
		agentGot <- readEvents(t, lea, agentReady, func(seen map[int64]bool) bool { return seen[otto] })
	}()
	go func() {
		adminGot <- readEvents(t, b, adminReady, func(seen map[int64]bool) bool { return seen[otto] && seen[conv] })
	}()
	<-agentReady
	<-adminReady
	// Rita writes first: by the time Otto's event arrives, hers would have.
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4915100000001", "Rita Gesperrt", "wamid.r2", time.Now().Unix(), "noch eine Frage"))
	time.Sleep(200 * time.Millisecond)
	deliver(t, g.Gateway, textWebhook(pnid, "4930123456", "4915100000002", "Otto Offen", "wamid.o2", time.Now().Unix(), "und noch eine"))
	agentSeen, adminSeen := <-agentGot, <-adminGot
	if !agentSeen[otto] || agentSeen[conv] {
		t.Fatalf("agent's events: %v (otto %d, restricted %d)", agentSeen, otto, conv)
	}
	if !adminSeen[otto] || !adminSeen[conv] {
		t.Fatalf("admin's events: %v", adminSeen)
	}
}
