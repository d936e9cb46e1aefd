package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// startDemoServe runs "serve --demo" on dir until the demo's shop is
// seeded and returns the run and its public address.
func startDemoServe(t *testing.T, dir string) (*serveRun, string) {
	t.Helper()
	public := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	r := startServe(t, "--demo", "--data-dir", dir, "--http-addr", public, "--internal-addr", "127.0.0.1:0")
	waitUntil(t, 60*time.Second, "the demo shop to be seeded", r, func() bool { return strings.Contains(r.out.String(), "demo: shop seeded") })
	return r, public
}

// demoLogin logs in to the panel like a browser and returns its client.
func demoLogin(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	c := panelClient()
	if status, loc := panelPost(t, c, base, "/login", url.Values{"email": {email}, "password": {password}}); status != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login: %d %s", status, loc)
	}
	return c
}

func conversationOf(t *testing.T, st *store.Store, key string) *store.ConversationSummary {
	t.Helper()
	c, err := st.ContactByKey(t.Context(), key)
	if err != nil {
		t.Fatalf("contact %s: %v", key, err)
	}
	convs, err := st.ContactConversations(t.Context(), c.ID)
	if err != nil || len(convs) == 0 {
		t.Fatalf("no conversation of %s: %v", key, err)
	}
	return convs[0]
}

// serve --demo shows a German coffee shop's inbox: many German names on
// drama mobile numbers, labels, canned replies, a closed and an assigned
// conversation, and approved templates the panel can send, which the
// simulator accepts. A restart adds nothing twice.
func TestDemoLooksLikeAGermanShop(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	r, public := startDemoServe(t, dir)
	m := regexp.MustCompile(`demo@pforte\.example\s+password\s+(\S+)`).FindStringSubmatch(r.out.String())
	if m == nil {
		t.Fatalf("no demo login printed:\n%s", r.out)
	}
	ro, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()

	// The customer who wrote more than a day ago can be answered only with
	// a template: the panel sends the demo's approved one.
	late := simulator.Customers(demoStreamCustomers + 2)[demoStreamCustomers+1]
	conv := conversationOf(t, ro, late.WaID)
	if conv.Status != "open" || time.Since(time.Unix(conv.LastInboundAt, 0)) < 24*time.Hour {
		t.Fatalf("the late customer's conversation: %+v", conv)
	}
	base := "http://" + public
	c := demoLogin(t, base, "demo@pforte.example", m[1])
	code, _ := panelPost(t, c, base, fmt.Sprintf("/conversations/%d/template", conv.ID),
		url.Values{"template": {"versand_bestaetigung|de"}, "p_1": {"Herr Lorenz"}, "p_2": {"10397"}, "contact": {fmt.Sprint(conv.Contact.ID)}})
	if code != http.StatusSeeOther {
		t.Fatalf("template send from the panel: %d", code)
	}
	var status string
	testenv.Eventually(t, 30*time.Second, "the simulator to deliver the template", func() bool {
		msgs, _, err := ro.ConversationMessages(ctx, conv.ID, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range msgs {
			if msg.Direction == "outbound" && msg.Type == "template" {
				status = string(msg.Status)
			}
		}
		return status == "delivered" || status == "read"
	})
	ro.Close()
	if code := r.stop(t); code != 0 {
		t.Fatalf("demo exited %d", code)
	}

	// A second start seeds again and must not add anything twice.
	r2, _ := startDemoServe(t, dir)
	if strings.Contains(r2.out.String(), "story_told_now=true") {
		t.Error("the restart told the story again")
	}
	if code := r2.stop(t); code != 0 {
		t.Fatalf("demo restart exited %d", code)
	}

	st, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	labels, _ := st.Labels(ctx)
	var names []string
	for _, l := range labels {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "Bestellung,Reklamation,Retoure,Rückruf,VIP" {
		t.Errorf("labels after two starts: %v", names)
	}
	canned, _ := st.CannedReplies(ctx)
	titles := map[string]int{}
	for _, cr := range canned {
		titles[cr.Title]++
	}
	if len(canned) != len(demoCanned) || titles["Begrüßung"] != 1 || !strings.HasPrefix(canned[slices.IndexFunc(canned,
		func(c store.CannedReply) bool { return c.Title == "Begrüßung" })].Body, "Vielen Dank für Ihre Nachricht") {
		t.Errorf("canned replies after two starts: %v", titles)
	}
	tpls, _ := st.Templates(ctx)
	if len(tpls) != len(demoTemplates) {
		t.Errorf("%d templates, want %d", len(tpls), len(demoTemplates))
	}
	for _, tp := range tpls {
		if !tp.Usable() || tp.Category != "UTILITY" || tp.Body == "" {
			t.Errorf("template %s/%s: status %q category %q", tp.Name, tp.Language, tp.Status, tp.Category)
		}
	}

	admin, err := st.UserByEmail(ctx, "demo@pforte.example")
	if err != nil {
		t.Fatal(err)
	}
	convs, _, err := st.Conversations(ctx, store.ConversationFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	mobile := regexp.MustCompile(`^49(15|16|17)\d{8,9}$`)
	people := map[string]bool{}
	closed, assigned, umlauts, firstOnly := 0, 0, 0, 0
	for _, cv := range convs {
		if cv.Contact.WaID != "" && !mobile.MatchString(cv.Contact.WaID) {
			t.Errorf("%s writes from %s, not a German mobile number", cv.Contact.Name, cv.Contact.WaID)
		}
		if !people[cv.Contact.Name] {
			people[cv.Contact.Name] = true
			if strings.ContainsAny(cv.Contact.Name, "äöüÄÖÜßë") {
				umlauts++
			}
			if !strings.Contains(cv.Contact.Name, " ") {
				firstOnly++
			}
		}
		if cv.DisplayNumber != demoDisplayNumber {
			t.Errorf("business number %q, want %s", cv.DisplayNumber, demoDisplayNumber)
		}
		if cv.Status == demoClosed {
			closed++
		}
		if cv.AssigneeID == admin.ID {
			assigned++
		}
	}
	if len(people) < 15 || umlauts < 3 || firstOnly < 2 {
		t.Errorf("%d distinct names (%d with umlauts, %d first names only): %v", len(people), umlauts, firstOnly, people)
	}
	if closed != 1 || assigned != 1 {
		t.Errorf("%d closed and %d assigned conversations, want one each", closed, assigned)
	}
	// The story was told once: the late customer's two lines are there once.
	msgs, _, err := st.ConversationMessages(ctx, conv.ID, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	inbound := 0
	for _, msg := range msgs {
		if msg.Direction == "inbound" {
			inbound++
		}
	}
	if inbound != 2 {
		t.Errorf("the late customer's conversation holds %d inbound messages, want the story's 2", inbound)
	}
}
