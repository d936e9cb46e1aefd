package panel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestPanelShowsEveryMessageType delivers every example webhook and checks
// that each type is shown the way an agent needs to see it.
func TestPanelShowsEveryMessageType(t *testing.T) {
	f := newPanelFixture(t)
	names, bodies := testenv.Examples(t, "webhooks")
	for _, n := range names {
		if n != "status_failed_131026" {
			deliver(t, f.g, bodies[n])
		}
	}
	// A reply of ours that Meta then reports as failed, with its reason.
	deliver(t, f.g, textWebhook("412095873361844", "12125550173", "12125550144", "Kim", "wamid.kim.1", time.Now().Unix()-100, "Wo bleibt mein Paket?"))
	conv := conversationID(t, f.g.Store, "12125550144")
	storeOutbound(t, f.g.Store, conv, "wamid.HBgLMTIxMjU1NTAxNDQVAgARGBI1NUE3N0VDODE2QkExREI3NEIA", time.Now().Unix(), "Ihre Bestellung ist da", "sent")
	deliver(t, f.g, bodies["status_failed_131026"])

	b := sessionFor(t, f.g, f.agent)
	all := ""
	ctx := context.Background()
	items, err := f.g.Store.Contacts(ctx, "", 500, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		convs, _ := f.g.Store.ContactConversations(ctx, it.ID)
		for _, c := range convs {
			p := b.get(fmt.Sprintf("/conversations/%d?assigned=all&status=all", c.ID))
			if p.status != http.StatusOK {
				t.Fatalf("conversation %d: %d", c.ID, p.status)
			}
			all += p.body
		}
	}
	for what, want := range map[string]string{
		"location name":              "Pickup point - Example Street",
		"location map link":          "https://www.openstreetmap.org/?mlat=51.501335",
		"contact card":               "Dana Lopez",
		"list reply":                 "Express (1-2 days)",
		"template quick reply":       "Stop promotions",
		"forwarded":                  "Weitergeleitet",
		"unsupported explained":      "Nicht darstellbare Nachricht (poll_creation)",
		"document name":              "return-form-2026-09.pdf",
		"media still being fetched":  "wird geladen",
		"voice note":                 "Audio wird geladen",
		"reply quotes":               "Antwort auf eine ältere Nachricht",
		"failed send in plain words": "Nicht zustellbar: Die Nummer hat kein WhatsApp",
		"failed tick":                `data-status="failed"`,
		"reaction":                   "hat mit 👍 reagiert",
		"interactive button":         "Knopf gedrückt",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("%s: %q not shown", what, want)
		}
	}
}

// TestPanelRendersHostileInputInert sends markup as a message, a name and
// a file name through the real webhook and checks the pages show it as text.
func TestPanelRendersHostileInputInert(t *testing.T) {
	f := newPanelFixture(t)
	payload := `<script>alert('x')</script><img src=x onerror=alert(1)>`
	deliver(t, f.g, textWebhook("106540352242922", "4930123456", "4917000000666", `"><svg onload=alert(2)>`, "wamid.xss1", time.Now().Unix(), payload+" javascript:alert(3)"))
	doc := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
		"metadata":{"display_phone_number":"4930123456","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"x"},"wa_id":"4917000000666"}],
		"messages":[{"from":"4917000000666","id":"wamid.xss2","timestamp":"%d","type":"document","document":{"filename":"\"><img src=x onerror=alert(4)>.pdf","caption":"<b>fett</b>","mime_type":"application/pdf","sha256":"x","id":"1"}}]}}]}]}`, time.Now().Unix())
	deliver(t, f.g, []byte(doc))
	conv := conversationID(t, f.g.Store, "4917000000666")
	if _, err := f.g.Store.AddNote(context.Background(), conv, f.agent.ID, "<script>note()</script>"); err != nil {
		t.Fatal(err)
	}
	b := sessionFor(t, f.g, f.agent)
	event := regexp.MustCompile(`<[a-zA-Z]+(?:\s+[a-zA-Z:-]+(?:="[^"]*"|='[^']*')?)*\s+on[a-z]+=`)
	for _, path := range []string{fmt.Sprintf("/conversations/%d?assigned=all&status=all", conv), "/inbox?assigned=all&status=all", "/contacts", "/search?q=alert", "/search?q=%3Cscript"} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", path, p.status)
		}
		for _, bad := range []string{"<script>alert", "<script>note", "<img src=x", "<svg onload", "<b>fett", `href="javascript:`} {
			if strings.Contains(p.body, bad) {
				t.Errorf("%s contains live markup %q", path, bad)
			}
		}
		if m := event.FindString(p.body); m != "" {
			t.Errorf("%s: element with an event handler: %s", path, m)
		}
	}
	p := b.get(fmt.Sprintf("/conversations/%d?assigned=all&status=all", conv))
	for _, want := range []string{"&lt;script&gt;alert(", "&lt;b&gt;fett&lt;/b&gt;", "&lt;script&gt;note()"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("escaped text %q not shown", want)
		}
	}
}

// TestPanelLiveEvents reads the event stream while a customer writes.
func TestPanelLiveEvents(t *testing.T) {
	f := newPanelFixture(t)
	b := sessionFor(t, f.g, f.agent)
	req, _ := http.NewRequest("GET", f.g.Public.URL+"/events", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := b.client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q", line)
	}
	deliver(t, f.g, textWebhook("106540352242922", "4930123456", "4917612345678", "Erika Mustermann", "wamid.live.x", time.Now().Unix(), "Noch eine Frage"))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no event before the stream ended: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(data, `"kind":"message"`) {
			var ev struct {
				Conversation int64 `json:"conversation"`
				Inbound      bool  `json:"inbound"`
				Unread       *int  `json:"unread"`
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Conversation != f.convID || !ev.Inbound || ev.Unread == nil || *ev.Unread < 1 {
				t.Fatalf("event %s", data)
			}
			break
		}
	}
	// Logging out everywhere ends the stream at its next session check,
	// and a closed server ends it at once.
	f.g.Panel.StopStreams()
	if _, err := r.ReadString('\n'); err == nil {
		for {
			if _, err := r.ReadString('\n'); err != nil {
				break
			}
		}
	}
}

// The event stream is only for the inbox's roles.
func TestPanelEventsNeedInboxRole(t *testing.T) {
	f := newPanelFixture(t)
	if p := sessionFor(t, f.g, f.auditor).get("/events"); p.status != http.StatusForbidden {
		t.Fatalf("auditor events: %d", p.status)
	}
}

func TestPanelUserManagement(t *testing.T) {
	f := newPanelFixture(t)
	a := sessionFor(t, f.g, f.admin)
	p := a.post("/users", map[string][]string{"name": {"Neue Kollegin"}, "email": {"neu@example.de"}, "role": {"agent"}})
	m := regexp.MustCompile(`(http://[^<"]+/invite/[A-Za-z0-9_-]+)`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("invite: %d", p.status)
	}
	link := strings.TrimPrefix(m[1], f.g.Public.URL)
	invitee := newBrowser(t, f.g.Public.URL)
	if p := invitee.get(link); p.status != http.StatusOK || !strings.Contains(p.body, "neu@example.de") {
		t.Fatalf("invite page: %d", p.status)
	}
	if p := invitee.post(link, map[string][]string{"password": {"kurz"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", p.status)
	}
	if p := invitee.post(link, map[string][]string{"password": {testPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("accept: %d", p.status)
	}
	if p := invitee.get(link); p.status != http.StatusNotFound {
		t.Fatalf("invite link reused: %d", p.status)
	}
	invitee.login("neu@example.de")
	if p := invitee.get("/inbox"); p.status != http.StatusOK {
		t.Fatalf("invited agent's inbox: %d", p.status)
	}
	// Disabling ends the sessions at once.
	u, _ := f.g.Store.UserByEmail(context.Background(), "neu@example.de")
	if p := a.post(fmt.Sprintf("/users/%d/disable", u.ID), nil); p.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.status)
	}
	if p := invitee.get("/inbox"); p.status != http.StatusSeeOther {
		t.Fatalf("disabled user's session still works: %d", p.status)
	}
	if p := newBrowser(t, f.g.Public.URL).post("/login", map[string][]string{"email": {"neu@example.de"}, "password": {testPassword}}); p.status != http.StatusUnauthorized {
		t.Fatalf("disabled user logged in: %d", p.status)
	}
	// The last admin cannot be demoted by another admin's mistake: make
	// the only other admin an agent, then try to demote.
	other := addUser(t, f.g.Store, "admin2@example.de", store.RoleAdmin)
	a2 := sessionFor(t, f.g, other)
	if p := a2.post(fmt.Sprintf("/users/%d/role", f.admin.ID), map[string][]string{"role": {"agent"}}); p.status != http.StatusSeeOther {
		t.Fatalf("demote first admin: %d", p.status)
	}
	if p := sessionFor(t, f.g, f.agent).post(fmt.Sprintf("/users/%d/role", other.ID), map[string][]string{"role": {"agent"}}); p.status != http.StatusForbidden {
		t.Fatalf("agent changing roles: %d", p.status)
	}
	entries, _ := f.g.Store.AuditLog(context.Background(), 0, 200)
	seen := map[store.AuditAction]bool{}
	for _, e := range entries {
		seen[e.Action] = true
	}
	for _, want := range []store.AuditAction{"user.create", "user.invite", "invite.accept", "user.disable", "user.role", "login.success", "login.failed"} {
		if !seen[want] {
			t.Errorf("audit lacks %s", want)
		}
	}
	if broken, err := f.g.Store.VerifyAuditChain(context.Background()); err != nil || broken != 0 {
		t.Fatalf("audit chain broken at %d: %v", broken, err)
	}
}

func TestPanelSettingsShowAndReplaySubscriptions(t *testing.T) {
	f := newPanelFixture(t)
	ctx := context.Background()
	sub, _, err := f.g.Store.CreateSubscription(ctx, "test", store.SubscriptionInput{Name: "CRM", URL: "http://127.0.0.1:9/hook", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	a := sessionFor(t, f.g, f.admin)
	p := a.get("/settings")
	if !strings.Contains(p.body, `data-testid="subscriptions"`) || !strings.Contains(p.body, "CRM") {
		t.Fatal("subscription not listed")
	}
	if p := a.post(fmt.Sprintf("/settings/subscriptions/%d/replay", sub.ID), map[string][]string{"what": {"day"}}); p.status != http.StatusSeeOther {
		t.Fatalf("replay: %d %.200s", p.status, p.body)
	}
	entries, _ := f.g.Store.AuditLog(ctx, 0, 50)
	found := false
	for _, e := range entries {
		found = found || (e.Action == "subscription.replay" && e.Actor == store.UserActor(f.admin.ID))
	}
	if !found {
		t.Fatal("replay not audited with the admin as actor")
	}
	if p := sessionFor(t, f.g, f.agent).post(fmt.Sprintf("/settings/subscriptions/%d/replay", sub.ID), map[string][]string{"what": {"dead"}}); p.status != http.StatusForbidden {
		t.Fatalf("agent replay: %d", p.status)
	}
}

func TestPanelLanguageChoice(t *testing.T) {
	f := newPanelFixture(t)
	b := sessionFor(t, f.g, f.agent)
	if p := b.get("/inbox"); !strings.Contains(p.body, "Posteingang") || !strings.Contains(p.body, `lang="de"`) {
		t.Fatal("German is the default")
	}
	if p := b.post("/account/preferences", map[string][]string{"lang": {"en"}}); p.status != http.StatusSeeOther {
		t.Fatalf("preferences: %d", p.status)
	}
	p := b.get("/inbox")
	if !strings.Contains(p.body, ">Inbox<") || !strings.Contains(p.body, `lang="en"`) || strings.Contains(p.body, "Posteingang") {
		t.Fatal("English not applied")
	}
	// Unknown languages fall back to German.
	b.post("/account/preferences", map[string][]string{"lang": {"fr"}})
	if p := b.get("/inbox"); !strings.Contains(p.body, "Posteingang") {
		t.Fatal("fallback")
	}
}

func TestPanelSecretsAreWriteOnlyAndApplyAtOnce(t *testing.T) {
	f := newPanelFixture(t)
	a := sessionFor(t, f.g, f.admin)
	if p := a.post("/settings/meta", map[string][]string{"app_secret": {"neues-geheimnis-123"}, "access_token": {"EAAG-neuer-token"}}); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d", p.status)
	}
	p := a.get("/settings")
	if strings.Contains(p.body, "neues-geheimnis-123") || strings.Contains(p.body, "EAAG-neuer-token") {
		t.Fatal("a secret is shown again")
	}
	body := textWebhook("106540352242922", "4930123456", "4917600000099", "X", "wamid.secret.1", time.Now().Unix(), "hi")
	if resp := f.g.PostWebhook(t, body); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old secret still accepted: %d", resp.StatusCode)
	}
	if resp := f.g.PostWebhookSigned(t, body, cloudapi.Sign([]byte("neues-geheimnis-123"), body)); resp.StatusCode != http.StatusOK {
		t.Fatalf("new secret refused: %d", resp.StatusCode)
	}
	if v, ok, err := f.g.Store.Secret(context.Background(), store.SettingAccessToken); err != nil || !ok || string(v) != "EAAG-neuer-token" {
		t.Fatalf("token stored: %q %v %v", v, ok, err)
	}
}

func TestPanelContactExportAndErase(t *testing.T) {
	f := newPanelFixture(t)
	ctx := context.Background()
	c, _ := f.g.Store.ContactByKey(ctx, "4917612345678")
	a := sessionFor(t, f.g, f.admin)
	p := a.get(fmt.Sprintf("/contacts/%d", c.ID))
	if !strings.Contains(p.body, `data-testid="export-btn"`) || !strings.Contains(p.body, `data-testid="erase-btn"`) {
		t.Fatal("admin sees no data-protection actions")
	}
	if p := sessionFor(t, f.g, f.agent).get(fmt.Sprintf("/contacts/%d", c.ID)); strings.Contains(p.body, `data-testid="erase-btn"`) {
		t.Fatal("agent is offered the erasure")
	}
	p = a.post(fmt.Sprintf("/contacts/%d/export", c.ID), nil)
	if p.status != http.StatusOK || !strings.HasPrefix(p.body, "PK") || p.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s %.20q", p.status, p.header.Get("Content-Type"), p.body)
	}
	if p := sessionFor(t, f.g, f.agent).post(fmt.Sprintf("/contacts/%d/erase", c.ID), map[string][]string{"reason": {"x"}}); p.status != http.StatusForbidden {
		t.Fatalf("agent erase: %d", p.status)
	}
	p = a.post(fmt.Sprintf("/contacts/%d/erase", c.ID), map[string][]string{"reason": {"Anfrage vom 3.11."}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/contacts" {
		t.Fatalf("erase: %d %q", p.status, p.header.Get("Location"))
	}
	if _, err := f.g.Store.ContactByKey(ctx, "4917612345678"); err == nil {
		t.Fatal("contact still there after the erasure")
	}
	entries, _ := f.g.Store.AuditLog(ctx, 0, 100)
	seen := map[store.AuditAction]store.Actor{}
	for _, e := range entries {
		seen[e.Action] = e.Actor
	}
	want := store.UserActor(f.admin.ID)
	if seen["contact.export"] != want && seen["export"] != want {
		t.Errorf("export not audited with the admin: %v", seen)
	}
}
